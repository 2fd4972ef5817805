package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateKeepsAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(path, []byte("second"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: err = %v, want fs.ErrExist", err)
	}
	assertFile(t, path, "first", 0o600)
	assertOnlyFile(t, path)
}

func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.prom")
	for _, data := range []string{"one", "two"} {
		if err := Replace(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		assertFile(t, path, data, 0o644)
	}
	assertOnlyFile(t, path)
}

func TestPermissionsIgnoreUmask(t *testing.T) {
	dir := t.TempDir()
	for _, perm := range []os.FileMode{0o600, 0o640, 0o644} {
		path := filepath.Join(dir, perm.String())
		if err := Create(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		assertFile(t, path, "x", perm)
	}
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	if err := Replace(path, []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Replace into a missing directory: err = %v, want fs.ErrNotExist", err)
	}
}

func assertFile(t *testing.T, path, want string, perm os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != perm {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), perm)
	}
}

// assertOnlyFile fails when a temporary file was left beside path.
func assertOnlyFile(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only %s", names, filepath.Base(path))
	}
}
