//go:build unix

package backup

import (
	"errors"
	"os/exec"
	"syscall"
)

// pidAlive reports whether a process with this pid exists on this host.
// EPERM means it exists but belongs to someone else.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownProcessGroup makes cmd the leader of a new process group, and its
// cancellation kill the whole group: pg_dump --jobs forks workers, which
// must die with it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
