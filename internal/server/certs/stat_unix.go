//go:build unix

package certs

import (
	"io/fs"
	"syscall"
)

// fileID returns the device and inode of a file, which a rename over it or a
// swapped symlink (a Kubernetes secret volume) changes even when size and
// modification time happen to match.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // narrower types on some platforms
}
