// Package atomicfile writes small files (keys, certificates, metrics) so
// that no reader ever sees one half written or with the wrong permissions:
// the data goes to a synced temporary file in the same directory, which is
// then moved into place and the directory synced.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Replace writes data to path with mode perm, replacing any file there by a
// rename.
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// Create writes data to path with mode perm unless path exists, in which
// case it returns an error that wraps fs.ErrExist and leaves the file alone,
// even if it appeared after the caller looked: the temporary file is
// hard-linked into place, which fails on an existing name. Where the file
// system has no hard links (FAT, some network file systems) it checks once
// more and renames; two writers could then race in the width of two system
// calls.
func Create(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, replace bool) error {
	dir := filepath.Dir(path)
	// The temporary name starts with a dot and does not keep path's
	// extension, so collectors that read *.prom or *.crt skip it.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a link, only the temporary name goes
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmpName, path)
	} else if err = os.Link(tmpName, path); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Lstat(path); statErr == nil {
			err = fmt.Errorf("link %s: %w", path, fs.ErrExist)
		} else {
			err = os.Rename(tmpName, path)
		}
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
