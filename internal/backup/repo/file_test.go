package repo_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestFile(t *testing.T) {
	repotest.Run(t, func(t *testing.T) repo.Repository {
		r, _ := repotest.OpenFile(t)
		return r
	})
}

func TestFileModes(t *testing.T) {
	old := syscall.Umask(0) // the modes must not depend on a lax umask
	defer syscall.Umask(old)
	r, dir := repotest.OpenFile(t)
	ctx := t.Context()
	if _, err := r.Put(ctx, "a/b/c", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateExclusive(ctx, "locks/l", []byte("x")); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		".": 0o700 | fs.ModeDir, "a": 0o700 | fs.ModeDir, "a/b": 0o700 | fs.ModeDir, "a/b/c": 0o600,
		"locks": 0o700 | fs.ModeDir, "locks/l": 0o600,
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		w, ok := want[filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("unexpected %s in the repository (a leftover?)", rel)
		} else if fi.Mode() != w {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), w)
		}
		delete(want, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Errorf("missing: %v", want)
	}
}

// TestFileSymlinkEscape plants symbolic links in the repository that point
// outside it: no operation may follow them out.
func TestFileSymlinkEscape(t *testing.T) {
	r, dir := repotest.OpenFile(t)
	ctx := t.Context()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(ctx, "x", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "file-link")); err != nil {
		t.Fatal(err)
	}
	if rc, err := r.Get(ctx, "out/secret"); err == nil {
		rc.Close()
		t.Error("Get through a symbolic link out of the repository succeeded")
	}
	if rc, err := r.Get(ctx, "file-link"); err == nil {
		rc.Close()
		t.Error("Get of a symbolic link out of the repository succeeded")
	}
	if _, err := r.Put(ctx, "out/planted", strings.NewReader("x"), repo.PutOptions{}); err == nil {
		t.Error("Put through a symbolic link out of the repository succeeded")
	}
	if err := r.CreateExclusive(ctx, "out/lock", nil); err == nil {
		t.Error("CreateExclusive through a symbolic link out of the repository succeeded")
	}
	if err := r.Delete(ctx, "out/secret"); err != nil {
		t.Logf("Delete through the link: %v", err)
	}
	objs, err := r.List(ctx, "")
	if err != nil || len(objs) != 1 || objs[0].Key != "x" {
		t.Errorf("List = %v, %v; want only x (links are not objects)", objs, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("the directory outside now holds %d entries, want the one it had", len(entries))
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "outside" {
		t.Errorf("the file outside changed: %q", b)
	}
}

// TestFileStaleTemp covers what a killed process leaves: a temporary file of
// some age, which only a cut-off older than its age keeps.
func TestFileStaleTemp(t *testing.T) {
	r, dir := repotest.OpenFile(t)
	ctx := t.Context()
	if _, err := r.Put(ctx, "b/obj", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "b", ".tmp-0123456789abcdef-obj2")
	young := filepath.Join(dir, "b", ".tmp-fedcba9876543210-obj3")
	for _, p := range []string{stale, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if objs, err := r.List(ctx, ""); err != nil || len(objs) != 1 {
		t.Fatalf("List = %v, %v; want the one complete object", objs, err)
	}
	if n, err := r.AbortIncomplete(ctx, "b/obj2", time.Hour); err != nil || n != 1 {
		t.Fatalf("AbortIncomplete(b/obj2, 1h) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale temporary file is still there: %v", err)
	}
	if n, err := r.AbortIncomplete(ctx, "", time.Hour); err != nil || n != 0 {
		t.Fatalf("AbortIncomplete(1h) = %d, %v; want 0: the other one is young", n, err)
	}
	if n, err := r.AbortIncomplete(ctx, "b/", 0); err != nil || n != 1 {
		t.Fatalf("AbortIncomplete(b/, 0) = %d, %v; want 1", n, err)
	}
}

// TestFileMissingRoot: a repository directory that does not exist is not
// found (as a missing S3 bucket), so a mistyped path cannot read as a
// repository without backups; reading never creates it, the first write does.
func TestFileMissingRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-written")
	r, err := repo.Open(t.Context(), "file://"+filepath.ToSlash(dir), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if objs, err := r.List(ctx, ""); !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), dir) {
		t.Errorf("List of a missing directory = %v, %v; want ErrNotFound naming %s", objs, err, dir)
	}
	if _, err := r.Stat(ctx, "x"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat: %v", err)
	}
	if n, err := r.AbortIncomplete(ctx, "", 0); err != nil || n != 0 {
		t.Errorf("AbortIncomplete: %d, %v", n, err)
	}
	if err := r.Delete(ctx, "x"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading created the repository directory: %v", err)
	}
	if _, err := r.Put(ctx, "a/1", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatalf("the first Put: %v", err)
	}
	if objs, err := r.List(ctx, ""); err != nil || len(objs) != 1 {
		t.Errorf("List after the first Put = %v, %v; want one object", objs, err)
	}
}

// TestFileDeletePrunesDirectories: pruned backups leave no empty directories.
func TestFileDeletePrunesDirectories(t *testing.T) {
	r, dir := repotest.OpenFile(t)
	ctx := t.Context()
	for _, k := range []string{"backups/2024/01/data", "backups/2024/02/data"} {
		if _, err := r.Put(ctx, k, strings.NewReader("x"), repo.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Delete(ctx, "backups/2024/01/data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "backups/2024/01")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "backups/2024/02/data")); err != nil {
		t.Errorf("sibling removed: %v", err)
	}
	if err := r.Delete(ctx, "backups/2024/02/data"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("repository root = %v, %v; want it empty and still there", entries, err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	good := []struct{ in, url string }{
		{"file:///var/backups", "file:///var/backups"},
		{"file:///var/backups/", "file:///var/backups"},
		{"file://localhost/var/b", "file:///var/b"},
		{"file:///var/with%20space", "file:///var/with%20space"},
		{"s3://bucket", "s3://bucket"},
		{"s3://bucket/", "s3://bucket"},
		{"s3://bucket/some/prefix/", "s3://bucket/some/prefix"},
		{"s3://my.bucket-1/p", "s3://my.bucket-1/p"},
	}
	for _, tc := range good {
		r, err := repo.Open(ctx, tc.in, repo.Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET"})
		if err != nil {
			t.Errorf("Open(%q): %v", tc.in, err)
			continue
		}
		if r.URL() != tc.url {
			t.Errorf("Open(%q).URL() = %q, want %q", tc.in, r.URL(), tc.url)
		}
	}
	bad := []struct{ in, want string }{
		{"", "want s3://bucket/prefix or file:///absolute/path"},
		{"/var/backups", "want s3://bucket/prefix or file:///absolute/path"},
		{"backups", "want s3://bucket/prefix or file:///absolute/path"},
		{"ftp://host/x", `unsupported scheme "ftp"`},
		{"file://var/backups", "three slashes"},
		{"file:relative", "three slashes"},
		{"file:///var/../etc", "must not contain .."},
		{"s3://", "not a bucket name"},
		{"s3://bucket:9000/x", "not a bucket name"},
		{"s3://b/x", "not a bucket name"},
		{"s3://bucket/a/../b", "prefix"},
		{"s3://bucket/x?region=eu", "query"},
		{"s3://AKIDEXAMPLE:hunter2@bucket/x", "credentials do not belong"},
	}
	for _, tc := range bad {
		_, err := repo.Open(ctx, tc.in, repo.Options{Region: "eu-west-1"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): the error shows the password: %v", tc.in, err)
		}
	}
	badOptions := []struct {
		o    repo.Options
		want string
	}{
		{repo.Options{Region: "x", SSE: "rot13"}, "want AES256, aws:kms"},
		{repo.Options{Region: "x", SSE: "AES256", SSEKMSKeyID: "k"}, "needs SSE aws:kms"},
		{repo.Options{Region: "x", StorageClass: "cheap please"}, "storage class"},
		{repo.Options{Region: "x", Endpoint: "localhost:9000"}, "S3 endpoint"},
		{repo.Options{Region: "x", Endpoint: "http://u:hunter2@localhost:9000"}, "credentials do not belong"},
		{repo.Options{Region: "x", AccessKeyID: "AKID"}, "give both"},
	}
	for _, tc := range badOptions {
		_, err := repo.Open(ctx, "s3://bucket/p", tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with %+v = %v, want an error containing %q", tc.o, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
