package backup_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
)

// makeTree builds a data directory with what a backup must keep (modes,
// times, nesting, links) and what it must leave out (a socket, a FIFO, the
// content behind a link pointing outside).
func makeTree(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "data")
	outside = filepath.Join(base, "outside.txt")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(outside, []byte("OUTSIDE SECRET"), 0o600))
	must(os.MkdirAll(filepath.Join(dir, "nested", "deep"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "ro"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello, world\nünïcödé ✓\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "bin", "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o640))
	must(os.WriteFile(filepath.Join(dir, "ünïcödé name.txt"), []byte("x"), 0o644))
	big := make([]byte, 3<<20+123)
	_, _ = rand.Read(big)
	must(os.WriteFile(filepath.Join(dir, "nested", "deep", "x.bin"), big, 0o644))
	must(os.WriteFile(filepath.Join(dir, "ro", "f.txt"), []byte("read only"), 0o444))
	must(os.Symlink("a.txt", filepath.Join(dir, "link-in")))
	must(os.Symlink(outside, filepath.Join(dir, "link-out")))
	must(os.Symlink("../..", filepath.Join(dir, "nested", "up")))
	must(os.Symlink("nested", filepath.Join(dir, "dirlink")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	must(err)
	t.Cleanup(func() { l.Close() })
	// Fixed, distinct times, with nanoseconds, set bottom-up.
	when := time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)
	for i, p := range []string{"a.txt", "bin/run.sh", "secret", "empty", "nested/deep/x.bin", "ro/f.txt",
		"nested/deep", "nested", "bin", "ro", "."} {
		tm := when.Add(time.Duration(i) * time.Hour)
		must(os.Chtimes(filepath.Join(dir, p), tm, tm))
	}
	must(os.Chmod(filepath.Join(dir, "ro"), 0o555))
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "ro"), 0o755) })
	return dir, outside
}

// treeEntry is what compareTrees looks at.
type treeEntry struct {
	mode  fs.FileMode
	mtime time.Time
	data  string // content, or link target
}

func readTree(t *testing.T, dir string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := treeEntry{mode: fi.Mode(), mtime: fi.ModTime()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.data, err = os.Readlink(p)
			e.mtime = time.Time{} // link times are not restored
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			e.data = string(b)
		}
		out[rel] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirectoryRoundTrip(t *testing.T) {
	t.Parallel()
	src, _ := makeTree(t)
	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	s, err := backup.NewDirectorySource("files", src)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: k.encryption(), Reporter: rec})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Source.Kind != backup.KindDirectory || m.Source.DumpFormat != "tar" {
		t.Errorf("source = %+v", m.Source)
	}
	if len(m.Source.Skipped) != 2 || !strings.Contains(strings.Join(m.Source.Skipped, " "), "socket") ||
		!strings.Contains(strings.Join(m.Source.Skipped, " "), "named pipe") {
		t.Errorf("skipped = %q, want the socket and the FIFO", m.Source.Skipped)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "sock") {
		t.Errorf("warnings = %q", res.Warnings)
	}
	if got := rec.progress(backup.PhaseBackup); got != m.Data.PlaintextSize {
		t.Errorf("progress ended at %d bytes, plaintext is %d", got, m.Data.PlaintextSize)
	}

	target := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: target}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(target, "ro"), 0o755) })
	want, got := readTree(t, src), readTree(t, target)
	delete(want, "sock")
	delete(want, "fifo")
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from the restore", name)
		case g.mode != w.mode:
			t.Errorf("%s: mode %v, want %v", name, g.mode, w.mode)
		case !g.mtime.Equal(w.mtime):
			t.Errorf("%s: mtime %v, want %v", name, g.mtime, w.mtime)
		case g.data != w.data:
			t.Errorf("%s: content or link target differs (%d bytes, want %d)", name, len(g.data), len(w.data))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: restored but not in the source", name)
		}
	}
	// The link pointing outside is a link again, and what it points to was
	// never read into the backup.
	for name, e := range got {
		if strings.Contains(e.data, "OUTSIDE SECRET") {
			t.Errorf("%s holds the content of a file outside the tree", name)
		}
	}

	// A non-empty target is refused, then restored over with force.
	if _, err := backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: target}, backup.RestoreOptions{}); !errors.Is(err, backup.ErrTargetNotEmpty) {
		t.Fatalf("restore into a non-empty directory: %v, want ErrTargetNotEmpty", err)
	}
	if err := os.WriteFile(filepath.Join(target, "a.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "extra"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	rr, err := backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: target, Force: true}, backup.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.PreVerified {
		t.Error("a restore over a non-empty directory did not verify the backup first")
	}
	if b, _ := os.ReadFile(filepath.Join(target, "a.txt")); !bytes.Equal(b, []byte(want["a.txt"].data)) {
		t.Errorf("a.txt = %q after a forced restore", b)
	}
	if _, err := os.Stat(filepath.Join(target, "extra")); err != nil {
		t.Errorf("a forced restore removed a file the backup does not have: %v", err)
	}
}

// TestDirectoryRestoreToFile writes a tar backup as one file.
func TestDirectoryRestoreToFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("FIFOs and sockets in the tree")
	}
	src, _ := makeTree(t)
	r, _ := repotest.OpenFile(t)
	s, _ := backup.NewDirectorySource("files", src)
	res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Encryption.Mode != backup.EncryptionNone || res.Manifest.Data.Object != "data.zst" {
		t.Errorf("unencrypted backup: encryption %+v, object %s", res.Manifest.Encryption, res.Manifest.Data.Object)
	}
	file := filepath.Join(t.TempDir(), "files.tar")
	if _, err := backup.Restore(t.Context(), r, res.Manifest.Ref(), nil, backup.Target{File: file}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != res.Manifest.Data.PlaintextSize {
		t.Errorf("restored file is %d bytes, plaintext %d", fi.Size(), res.Manifest.Data.PlaintextSize)
	}
	if _, err := backup.Restore(t.Context(), r, res.Manifest.Ref(), nil, backup.Target{File: file}, backup.RestoreOptions{}); !errors.Is(err, backup.ErrTargetNotEmpty) {
		t.Errorf("restore over an existing file: %v, want ErrTargetNotEmpty", err)
	}
	_, err = backup.Restore(t.Context(), r, res.Manifest.Ref(), nil, backup.Target{Database: "postgres://localhost/x"}, backup.RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be restored into a database") {
		t.Errorf("a directory backup into a database: %v", err)
	}
}
