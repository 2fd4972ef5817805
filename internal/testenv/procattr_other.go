//go:build unix && !linux

package testenv

import "syscall"

// sysProcAttr puts a child in its own process group, so teardown can kill all
// of it. Only Linux has Pdeathsig: elsewhere a killed test binary leaves its
// servers running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
