package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maxSkippedListed bounds the skipped entries a manifest names.
const maxSkippedListed = 20

// treeStats counts what writeTree archived and left out.
type treeStats struct {
	entries int64
	skipped []string
}

func (st *treeStats) skip(name, why string) {
	if len(st.skipped) < maxSkippedListed {
		st.skipped = append(st.skipped, name+" ("+why+")")
	} else if len(st.skipped) == maxSkippedListed {
		st.skipped = append(st.skipped, "...")
	}
}

// writeTree writes the tree at dir into tw: directories, regular files and
// symbolic links, with their modes, times and owners, in lexical order, the
// root itself as "./". Symbolic links are archived as links and never
// followed, and every file is opened through an os.Root, so nothing outside
// dir is ever read. Sockets, FIFOs and devices are skipped and counted.
// A file that shrinks while being read fails the archive; one that grows is
// archived up to the size it had when opened.
func writeTree(ctx context.Context, tw *tar.Writer, dir string, st *treeStats) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := filepath.FromSlash(p)
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			hdr, err := tarHeader(fi, "")
			if err != nil {
				return err
			}
			hdr.Name = p + "/"
			if p == "." {
				hdr.Name = "./"
			}
			st.entries++
			return tw.WriteHeader(hdr)
		case mode&fs.ModeSymlink != 0:
			target, err := root.Readlink(name)
			if err != nil {
				return err
			}
			hdr, err := tarHeader(fi, target)
			if err != nil {
				return err
			}
			hdr.Name = p
			st.entries++
			return tw.WriteHeader(hdr)
		case mode.IsRegular():
			st.entries++
			return writeFile(tw, root, p)
		case mode&fs.ModeSocket != 0:
			st.skip(p, "socket")
		case mode&fs.ModeNamedPipe != 0:
			st.skip(p, "named pipe")
		case mode&fs.ModeDevice != 0:
			st.skip(p, "device")
		default:
			st.skip(p, "irregular file")
		}
		return nil
	})
}

// writeFile archives one regular file, sized as it was when opened.
func writeFile(tw *tar.Writer, root *os.Root, p string) error {
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s changed into a %s while being archived", p, fi.Mode().Type())
	}
	hdr, err := tarHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = p
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(tw, f, hdr.Size)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s shrank from %d to %d bytes while being archived", p, hdr.Size, n)
	}
	return err
}

// tarHeader is tar.FileInfoHeader in PAX format (long names, sub-second
// times) without access and change times, which only add noise.
func tarHeader(fi fs.FileInfo, link string) (*tar.Header, error) {
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, err
	}
	hdr.Format = tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	return hdr, nil
}

// extractOptions configure extractTree.
type extractOptions struct {
	// chown restores owners (when running as root).
	chown bool
	// only, when set, extracts just the entries it accepts.
	only func(name string) bool
}

// extractTree writes the entries of tr under root: directories, regular
// files, symbolic and hard links, with modes and times (and owners if asked).
// All writes go through root (an os.Root), so no entry, however named or
// whatever links came before it, can write outside it. An existing file or
// link in the way is replaced; an existing directory is kept. Directory
// modes and times are applied last, so read-only directories still fill.
func extractTree(ctx context.Context, tr *tar.Reader, root *os.Root, o extractOptions) (int64, error) {
	type dirAttr struct {
		name     string
		mode     fs.FileMode
		mtime    time.Time
		uid, gid int
	}
	var dirs []dirAttr
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		name, err := checkEntry(hdr)
		if err != nil {
			return n, err
		}
		if o.only != nil && !o.only(name) {
			continue
		}
		local := filepath.FromSlash(name)
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		n++
		if dir := filepath.Dir(local); dir != "." && hdr.Typeflag != tar.TypeDir {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return n, err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := root.MkdirAll(local, 0o700); err != nil {
					return n, err
				}
			}
			dirs = append(dirs, dirAttr{local, mode, hdr.ModTime, hdr.Uid, hdr.Gid})
			continue
		case tar.TypeReg:
			if err := clearWay(root, local); err != nil {
				return n, err
			}
			f, err := root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return n, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return n, err
			}
			if err := root.Chmod(local, mode); err != nil {
				return n, err
			}
			if err := root.Chtimes(local, hdr.ModTime, hdr.ModTime); err != nil {
				return n, err
			}
		case tar.TypeSymlink:
			if err := clearWay(root, local); err != nil {
				return n, err
			}
			if err := root.Symlink(hdr.Linkname, local); err != nil {
				return n, err
			}
		case tar.TypeLink:
			if err := clearWay(root, local); err != nil {
				return n, err
			}
			if err := root.Link(filepath.FromSlash(path.Clean(hdr.Linkname)), local); err != nil {
				return n, err
			}
		default:
			n--
			continue
		}
		if o.chown {
			if err := root.Lchown(local, hdr.Uid, hdr.Gid); err != nil {
				return n, err
			}
		}
	}
	for _, d := range slices.Backward(dirs) {
		if o.chown {
			if err := root.Lchown(d.name, d.uid, d.gid); err != nil {
				return n, err
			}
		}
		if err := root.Chmod(d.name, d.mode); err != nil {
			return n, err
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkEntry returns the entry's cleaned relative name, or an ErrIntegrity
// error for an entry that writeTree never makes and that would escape or
// flood the target: a path outside it, a hard link to one, or a sparse
// file (archive/tar expands it to its declared size, so a few bytes of
// archive could write any amount of zeros). verify applies the same rules,
// so a backup that verifies also restores.
func checkEntry(hdr *tar.Header) (string, error) {
	name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
	if name == "" || name == "/" {
		name = "."
	}
	if name != "." && !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("%w: tar entry %q is not a relative path inside the target", ErrIntegrity, hdr.Name)
	}
	if hdr.Typeflag == tar.TypeLink && !filepath.IsLocal(filepath.FromSlash(path.Clean(hdr.Linkname))) {
		return "", fmt.Errorf("%w: tar entry %q links to %q, outside the target", ErrIntegrity, hdr.Name, hdr.Linkname)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", fmt.Errorf("%w: tar entry %q is a sparse file, which repairxctl never archives", ErrIntegrity, hdr.Name)
		}
	}
	return name, nil
}

// clearWay removes a file or link at name so a new entry can take its place.
func clearWay(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory in the target, the backup has a file there", name)
	}
	return root.Remove(name)
}
