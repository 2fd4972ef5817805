package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// File modes: backups are readable by their owner alone, whatever the umask
// of cron allows.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// copyBufferSize is the buffer one file Put copies through.
const copyBufferSize = 256 << 10

// fileRepo keeps objects as files under a directory. Every access goes through
// an os.Root, so no key, and no symbolic link planted in the directory, can
// reach outside it.
type fileRepo struct {
	dir string // absolute, cleaned
	url string
}

func openFile(u *url.URL) (*fileRepo, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("repository URL %s: a file URL takes an absolute path after three slashes, e.g. file:///var/backups", u.Redacted())
	}
	p := u.Path
	if p == "" && u.Opaque != "" {
		return nil, fmt.Errorf("repository URL %s: a file URL takes an absolute path after three slashes, e.g. file:///var/backups", u.Redacted())
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("repository URL %s: the path must be absolute", u.Redacted())
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return nil, fmt.Errorf("repository URL %s: the path must not contain ..", u.Redacted())
		}
	}
	dir := filepath.Clean(filepath.FromSlash(p))
	return &fileRepo{dir: dir, url: (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()}, nil
}

func (r *fileRepo) URL() string { return r.url }

// where names a key in error messages.
func (r *fileRepo) where(key string) string {
	if key == "" {
		return r.url
	}
	return strings.TrimSuffix(r.url, "/") + "/" + key
}

// openRoot opens the repository directory; create makes it first if missing.
// A Root per operation keeps no descriptor open between calls, and follows the
// directory if it is replaced.
func (r *fileRepo) openRoot(create bool) (*os.Root, error) {
	root, err := os.OpenRoot(r.dir)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.MkdirAll(r.dir, dirMode); err != nil {
			return nil, err
		}
		root, err = os.OpenRoot(r.dir)
	}
	return root, err
}

func (r *fileRepo) Put(ctx context.Context, key string, src io.Reader, o PutOptions) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	if _, err := partSize(o); err != nil {
		return 0, fmt.Errorf("put %s: %w", r.where(key), err)
	}
	root, err := r.openRoot(true)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", r.where(key), err)
	}
	defer root.Close()
	f, tmp, err := r.createTemp(root, key)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", r.where(key), err)
	}
	n, err := r.writeTemp(ctx, f, src)
	if err == nil {
		err = root.Rename(tmp, filepath.FromSlash(key))
	}
	if err == nil {
		err = syncDir(root, path.Dir(key))
	}
	if err != nil {
		_ = root.Remove(tmp)
		return 0, fmt.Errorf("put %s: %w", r.where(key), err)
	}
	return n, nil
}

// writeTemp copies src to f, fsyncs and closes it.
func (r *fileRepo) writeTemp(ctx context.Context, f *os.File, src io.Reader) (int64, error) {
	// The struct hides f's ReadFrom, which would copy through a small buffer of
	// its own.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, ctxReader{ctx, src}, make([]byte, copyBufferSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// createTemp creates an empty temporary file next to key's final place, named
// so that AbortIncomplete knows whose it was.
func (r *fileRepo) createTemp(root *os.Root, key string) (*os.File, string, error) {
	dir, base := path.Split(key)
	var lastErr error
	// A concurrent Delete may remove a directory it emptied between our mkdir
	// and create: try again.
	for range 3 {
		if err := mkdirAll(root, path.Clean(dir)); err != nil {
			return nil, "", err
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		tmp := filepath.FromSlash(dir + tempPrefix + hex.EncodeToString(rnd[:]) + "-" + base)
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			return f, tmp, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, "", lastErr
}

// mkdirAll creates dir and its missing parents with dirMode, fsyncing the
// parent of each new directory so that it survives a crash.
func mkdirAll(root *os.Root, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if fi, err := root.Stat(filepath.FromSlash(dir)); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is an object, not a directory", dir)
		}
		return nil
	}
	parent := path.Dir(dir)
	if err := mkdirAll(root, parent); err != nil {
		return err
	}
	err := root.Mkdir(filepath.FromSlash(dir), dirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil // a concurrent Put made it
	}
	if err != nil {
		return err
	}
	return syncDir(root, parent)
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// notExist reports an error that means "no such object": a missing file, or a
// path through something that is not a directory.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func (r *fileRepo) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := r.openRoot(false)
	if notExist(err) {
		return nil, fmt.Errorf("get %s: %w", r.where(key), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", r.where(key), err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(key))
	if notExist(err) {
		return nil, fmt.Errorf("get %s: %w", r.where(key), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", r.where(key), err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotFound
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", r.where(key), err)
	}
	return f, nil
}

func (r *fileRepo) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidKey(key); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	root, err := r.openRoot(false)
	if notExist(err) {
		return Object{}, fmt.Errorf("stat %s: %w", r.where(key), ErrNotFound)
	}
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", r.where(key), err)
	}
	defer root.Close()
	fi, err := root.Stat(filepath.FromSlash(key))
	if notExist(err) || (err == nil && !fi.Mode().IsRegular()) {
		return Object{}, fmt.Errorf("stat %s: %w", r.where(key), ErrNotFound)
	}
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", r.where(key), err)
	}
	return Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// walk calls fn for each regular file (temporary ones included) whose key
// could start with prefix, with the key it is stored under.
func (r *fileRepo) walk(ctx context.Context, root *os.Root, prefix string, fn func(key string, d fs.DirEntry) error) error {
	// Only the directory named by the prefix's complete segments can hold matches.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	err := fs.WalkDir(root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && notExist(err) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			// Prune directories that cannot lead to a match.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links and the like are not objects
		}
		return fn(p, d)
	})
	if notExist(err) {
		return nil
	}
	return err
}

func (r *fileRepo) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	objs := []Object{}
	root, err := r.openRoot(false)
	if notExist(err) {
		// As an S3 bucket that does not exist: a mistyped path must not
		// read as a repository without backups.
		return nil, fmt.Errorf("list %s: directory %s does not exist (the first backup run creates it): %w",
			r.url, r.dir, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.where(prefix), err)
	}
	defer root.Close()
	err = r.walk(ctx, root, prefix, func(key string, d fs.DirEntry) error {
		if strings.HasPrefix(path.Base(key), tempPrefix) || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if notExist(err) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		objs = append(objs, Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.where(prefix), err)
	}
	// A directory walk visits "a/b" before "a-c"; keys sort the other way.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func (r *fileRepo) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := r.openRoot(false)
	if notExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", r.where(key), err)
	}
	defer root.Close()
	name := filepath.FromSlash(key)
	fi, err := root.Lstat(name)
	if notExist(err) || (err == nil && fi.IsDir()) {
		return nil
	}
	if err == nil {
		err = root.Remove(name)
	}
	if err != nil && !notExist(err) {
		return fmt.Errorf("delete %s: %w", r.where(key), err)
	}
	// Remove the directories this left empty, so that pruned backups leave no
	// trace; the first one still in use stops it.
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if root.Remove(filepath.FromSlash(dir)) != nil {
			break
		}
	}
	return nil
}

func (r *fileRepo) CreateExclusive(ctx context.Context, key string, body []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := r.openRoot(true)
	if err != nil {
		return fmt.Errorf("create %s: %w", r.where(key), err)
	}
	defer root.Close()
	// The body is written and synced under a temporary name and then linked to
	// the key: link(2) fails if the key exists, like O_EXCL, and the object
	// never appears half-written, which O_EXCL on the key itself would allow.
	f, tmp, err := r.createTemp(root, key)
	if err != nil {
		return fmt.Errorf("create %s: %w", r.where(key), err)
	}
	defer root.Remove(tmp)
	if _, err := r.writeTemp(ctx, f, bytes.NewReader(body)); err != nil {
		return fmt.Errorf("create %s: %w", r.where(key), err)
	}
	name := filepath.FromSlash(key)
	err = root.Link(tmp, name)
	if linkUnsupported(err) {
		err = createExcl(root, name, body)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", r.where(key), ErrExists)
	}
	if err == nil {
		err = syncDir(root, path.Dir(key))
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", r.where(key), err)
	}
	return nil
}

// linkUnsupported reports a file system without hard links (some FUSE and
// network file systems).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS)
}

// createExcl is the fallback without hard links: O_EXCL on the key itself.
func createExcl(root *os.Root, name string, body []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(name)
	}
	return err
}

func (r *fileRepo) AbortIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if err := validPrefix(prefix); err != nil {
		return 0, err
	}
	root, err := r.openRoot(false)
	if notExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("abort incomplete %s: %w", r.where(prefix), err)
	}
	defer root.Close()
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err = r.walk(ctx, root, prefix, func(p string, d fs.DirEntry) error {
		dir, base := path.Split(p)
		rest, ok := strings.CutPrefix(base, tempPrefix)
		if !ok {
			return nil
		}
		// ".tmp-<16 hex>-<base>" was to become dir/base.
		target := p
		if len(rest) > 17 && rest[16] == '-' {
			target = dir + rest[17:]
		}
		if !strings.HasPrefix(target, prefix) {
			return nil
		}
		if olderThan > 0 {
			fi, err := d.Info()
			if notExist(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if fi.ModTime().After(cutoff) {
				return nil // probably still being written
			}
		}
		if err := root.Remove(filepath.FromSlash(p)); err != nil && !notExist(err) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("abort incomplete %s: %w", r.where(prefix), err)
	}
	return removed, nil
}
