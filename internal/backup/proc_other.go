//go:build !unix

package backup

import "os/exec"

// pidAlive cannot tell on this platform and assumes the process exists: a
// lock then ends only by expiring.
func pidAlive(int) bool { return true }

// ownProcessGroup keeps exec's default: cancellation kills the process.
func ownProcessGroup(*exec.Cmd) {}
