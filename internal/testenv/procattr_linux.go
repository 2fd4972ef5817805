package testenv

import "syscall"

// sysProcAttr puts a child in its own process group, so teardown can kill all
// of it, and has the kernel kill it when the test binary dies (Pdeathsig).
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
}
