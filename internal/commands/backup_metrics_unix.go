//go:build unix

package commands

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on dir, so that two runs of different
// sources updating one textfile do not lose each other's lines.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
