package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestExtractStaysInside feeds extractTree hostile archives: none may write
// outside the target, whatever names and links they use.
func TestExtractStaysInside(t *testing.T) {
	type entry struct {
		name, link string
		typ        byte
	}
	cases := map[string][]entry{
		"dot-dot":           {{name: "../evil", typ: tar.TypeReg}},
		"absolute":          {{name: "/tmp/evil", typ: tar.TypeReg}},
		"nested-dot-dot":    {{name: "a/../../evil", typ: tar.TypeReg}},
		"through-abs-link":  {{name: "l", link: "OUTSIDE", typ: tar.TypeSymlink}, {name: "l/evil", typ: tar.TypeReg}},
		"through-up-link":   {{name: "l", link: "..", typ: tar.TypeSymlink}, {name: "l/evil", typ: tar.TypeReg}},
		"replace-by-link":   {{name: "f", link: "OUTSIDE/evil", typ: tar.TypeSymlink}, {name: "f", typ: tar.TypeReg}},
		"hardlink-outside":  {{name: "h", link: "../outside-file", typ: tar.TypeLink}},
		"dir-through-link":  {{name: "l", link: "OUTSIDE", typ: tar.TypeSymlink}, {name: "l/d/", typ: tar.TypeDir}, {name: "l/d/evil", typ: tar.TypeReg}},
		"link-then-file-up": {{name: "a/l", link: "../..", typ: tar.TypeSymlink}, {name: "a/l/evil", typ: tar.TypeReg}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "target")
			for _, d := range []string{outside, target} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(base, "outside-file"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, e := range entries {
				link := e.link
				if link == "OUTSIDE" || bytes.HasPrefix([]byte(link), []byte("OUTSIDE/")) {
					link = outside + link[len("OUTSIDE"):]
				}
				hdr := &tar.Header{Name: e.name, Linkname: link, Typeflag: e.typ, Mode: 0o644}
				if e.typ == tar.TypeReg {
					hdr.Size = 4
				}
				if err := tw.WriteHeader(hdr); err != nil {
					t.Fatal(err)
				}
				if e.typ == tar.TypeReg {
					tw.Write([]byte("evil"))
				}
			}
			tw.Close()
			root, err := os.OpenRoot(target)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			_, err = extractTree(context.Background(), tar.NewReader(&buf), root, extractOptions{})
			// Replacing a link by a file is fine: the file lands inside.
			if err == nil && name != "replace-by-link" {
				t.Error("a hostile archive extracted without error")
			}
			for _, p := range []string{filepath.Join(base, "evil"), filepath.Join(outside, "evil"), filepath.Join(outside, "d"), "/tmp/evil"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written outside the target", p)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(base, "outside-file")); string(b) != "x" {
				t.Error("a file outside the target changed")
			}
		})
	}
}
