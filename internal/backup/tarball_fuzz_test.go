package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxFuzzTarOutput bounds what one extraction may declare: an archive whose
// regular files add up to more is skipped, so that a failing property can
// never fill the disk of the machine running the fuzzer.
const maxFuzzTarOutput = 64 << 20

// tarSandbox is a directory tree for extractions: the target, and beside
// and above it files that must never change. One serves a whole fuzz run:
// reset empties the target between inputs.
type tarSandbox struct {
	top    string // everything below is watched
	base   string // top/a/b: parent of target and outside
	target string
	out    string // base/outside, a directory links can point to
	before map[string]string
}

func newTarSandbox(tb testing.TB) *tarSandbox {
	tb.Helper()
	top := tb.TempDir()
	base := filepath.Join(top, "a", "b")
	s := &tarSandbox{top: top, base: base, target: filepath.Join(base, "target"), out: filepath.Join(base, "outside")}
	for _, d := range []string{s.target, filepath.Join(s.out, "d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		filepath.Join(s.out, "keep"): "outside", filepath.Join(base, "outside-file"): "x", filepath.Join(top, "top-file"): "y",
	} {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	s.before = s.snapshot(tb)
	return s
}

// reset empties the target (never following a link out of it) and puts
// back what a restore with force finds there.
func (s *tarSandbox) reset(tb testing.TB) {
	tb.Helper()
	if err := os.Chmod(s.target, 0o755); err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(s.target)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.target, e.Name())); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.target, "existing"), []byte("old"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(s.out, filepath.Join(s.target, "to-outside")); err != nil {
		tb.Fatal(err)
	}
}

// snapshot describes everything under top except the target's content:
// paths, types, modes, sizes, link targets and file checksums.
func (s *tarSandbox) snapshot(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.target || strings.HasPrefix(p, s.target+string(filepath.Separator)) {
			return nil // the target's own mode and size may change
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.IsDir() && p != s.target:
			desc += fmt.Sprintf(" %v", fi.ModTime().UnixNano())
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// extractInto runs extractTree on archive in the sandbox and checks that
// nothing outside the target changed, whatever extractTree returned, and that
// no more file content came out than went in.
func (s *tarSandbox) extractInto(t *testing.T, archive []byte) error {
	t.Helper()
	s.reset(t)
	before := s.before
	root, err := os.OpenRoot(s.target)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, xerr := extractTree(ctx, tar.NewReader(bytes.NewReader(archive)), root, extractOptions{})
	root.Close()
	// Undo modes an archive may set (0 on the target itself) so the walk sees everything.
	_ = filepath.WalkDir(s.top, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(p, s.target) {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	after := s.snapshot(t)
	for p, d := range before {
		if after[p] != d {
			t.Fatalf("extraction changed %s outside the target: %q -> %q (extract error: %v)", p, d, after[p], xerr)
		}
	}
	for p, d := range after {
		if _, ok := before[p]; !ok {
			t.Fatalf("extraction created %s (%s) outside the target (extract error: %v)", p, d, xerr)
		}
	}
	var written int64
	var seen []fs.FileInfo // hard links share their content
	_ = filepath.WalkDir(s.target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || slices.ContainsFunc(seen, func(o fs.FileInfo) bool { return os.SameFile(o, fi) }) {
			return nil
		}
		seen = append(seen, fi)
		written += fi.Size()
		return nil
	})
	if written > int64(len(archive))+int64(len("old")) {
		t.Fatalf("an archive of %d bytes wrote %d bytes of files (extract error: %v)", len(archive), written, xerr)
	}
	return xerr
}

// declaredOutput is what the regular files of archive add up to, as
// archive/tar reports them (sparse files at their expanded size), or -1 if
// the archive names an absolute path: the structured target covers those
// inside its sandbox, raw bytes could name any file of this machine.
func declaredOutput(archive []byte) int64 {
	var total int64
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return total
		}
		if strings.HasPrefix(hdr.Name, "/") || strings.HasPrefix(hdr.Linkname, "/") {
			return -1
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			total += hdr.Size
			if total > maxFuzzTarOutput || total < 0 {
				return total
			}
		}
	}
}

// ustarBlock returns a ustar header block, for archives tar.Writer refuses
// to write.
func ustarBlock(name string, typ byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func padBlock(b []byte) []byte {
	if n := len(b) % 512; n != 0 {
		b = append(b, make([]byte, 512-n)...)
	}
	return b
}

// paxRecord formats one PAX record, whose length counts itself.
func paxRecord(k, v string) string {
	s := " " + k + "=" + v + "\n"
	for n := len(s) + 1; ; n++ {
		if r := strconv.Itoa(n) + s; len(r) == n {
			return r
		}
	}
}

// sparseArchive is a PAX (GNU 1.0) sparse file of realSize bytes holding a
// single byte of data: a few KiB of archive that archive/tar expands into
// realSize bytes. repairxctl never writes sparse entries.
func sparseArchive(name string, realSize int64) []byte {
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", strconv.FormatInt(realSize, 10))
	var out []byte
	out = append(out, ustarBlock("PaxHeaders/"+name, tar.TypeXHeader, int64(len(pax)))...)
	out = append(out, padBlock([]byte(pax))...)
	data := append(padBlock([]byte("1\n"+strconv.FormatInt(realSize-1, 10)+"\n1\n")), 'z')
	out = append(out, ustarBlock("GNUSparseFile.0/"+name, tar.TypeReg, int64(len(data)))...)
	out = append(out, padBlock(data)...)
	return append(out, make([]byte, 1024)...)
}

// treeArchive archives a small directory with writeTree, as a directory
// backup does.
func treeArchive(tb testing.TB) []byte {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/deeper/c": ""} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Symlink("sub/b.txt", filepath.Join(dir, "link")); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeTree(context.Background(), tw, dir, &treeStats{}); err != nil {
		tb.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzExtractTree extracts arbitrary archives (raw bytes, seeded with what
// writeTree produces and with hostile archives) into a sandbox: nothing
// outside the target may change, however the entries are named or linked,
// and no more file content may come out than the archive holds.
func FuzzExtractTree(f *testing.F) {
	f.Add(treeArchive(f))
	f.Add(sparseArchive("big", 8<<20))
	for _, entries := range [][]tarEntry{
		{{typ: tar.TypeReg, name: "../evil", body: "evil"}},
		{{typ: tar.TypeReg, name: "a/../../evil", body: "evil"}},
		{{typ: tar.TypeSymlink, name: "l", link: ".."}, {typ: tar.TypeReg, name: "l/evil", body: "evil"}},
		{{typ: tar.TypeSymlink, name: "l", link: "../outside"}, {typ: tar.TypeDir, name: "l/d/"}, {typ: tar.TypeReg, name: "l/keep", body: "evil"}},
		{{typ: tar.TypeReg, name: "to-outside/keep", body: "evil"}},
		{{typ: tar.TypeLink, name: "h", link: "../outside-file"}, {typ: tar.TypeReg, name: "h", body: "evil"}},
		{{typ: tar.TypeLink, name: "h", link: "existing"}, {typ: tar.TypeReg, name: "existing", body: "new"}},
		{{typ: tar.TypeDir, name: "./", mode: 0o500}, {typ: tar.TypeReg, name: "f", body: "in a read-only dir"}},
		{{typ: tar.TypeSymlink, name: "existing", link: "../outside-file"}, {typ: tar.TypeReg, name: "existing", body: "evil"}},
	} {
		f.Add(writeEntries(f, entries, ""))
	}
	s := newTarSandbox(f)
	f.Fuzz(func(t *testing.T, archive []byte) {
		if n := declaredOutput(archive); n < 0 || n > maxFuzzTarOutput {
			return
		}
		if err := s.extractInto(t, archive); errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("extracting %d bytes took more than 20 s", len(archive))
		}
	})
}

// tarEntry is one entry of a structured archive.
type tarEntry struct {
	typ              byte
	name, link, body string
	mode             int64
}

// writeEntries writes entries with tar.Writer, replacing "@OUT" in names
// and links by outside, so that links can aim at the watched directory.
func writeEntries(tb testing.TB, entries []tarEntry, outside string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Typeflag: e.typ, Name: strings.ReplaceAll(e.name, "@OUT", outside),
			Linkname: strings.ReplaceAll(e.link, "@OUT", outside), Mode: mode, Format: tar.FormatPAX,
			ModTime: time.Unix(1795399200, 0)}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			continue // what tar.Writer refuses cannot reach a restore through writeTree
		}
		if e.typ == tar.TypeReg {
			_, _ = io.WriteString(tw, e.body)
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// parseEntries reads the structured target's input: one entry a line,
// "<type><name>|<link>|<body>|<octal mode>", the type a tar type flag.
// Absolute names and links are moved under top/abs (still watched).
func parseEntries(spec, top string) []tarEntry {
	var out []tarEntry
	for line := range strings.SplitSeq(spec, "\n") {
		if line == "" || len(out) >= 64 {
			continue
		}
		f := strings.SplitN(line[1:], "|", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		for i := range 2 {
			if strings.HasPrefix(f[i], "/") {
				f[i] = top + "/abs" + f[i]
			}
		}
		mode, _ := strconv.ParseInt(f[3], 8, 64)
		out = append(out, tarEntry{typ: line[0], name: f[0], link: f[1], body: f[2], mode: mode & 0o7777})
	}
	return out
}

// FuzzExtractTreeEntries is FuzzExtractTree on well-formed archives built
// from a line-based description, so that the fuzzer spends its time on
// names, links, types and their order rather than on header checksums.
// Links may aim at the watched directory beside the target (@OUT) and
// absolute names at a watched place above it.
func FuzzExtractTreeEntries(f *testing.F) {
	for _, spec := range []string{
		"5sub/\n0sub/f|||600\n2l|sub/f\n1h|sub/f",
		"0../evil|||",
		"0/etc/passwd||evil",
		"2l|@OUT\n0l/keep||evil",
		"2l|@OUT\n5l/d/\n0l/d/evil||evil",
		"2l|..\n0l/outside/keep||evil",
		"2a/l|../..\n0a/l/evil||evil",
		"2l|/\n0l/etc/evil||evil",
		"1h|../outside-file\n0h||evil",
		"1h|@OUT/keep",
		"2existing|@OUT/keep\n0existing||evil",
		"0to-outside/keep||evil",
		"5to-outside/\n0to-outside/new||evil",
		"2d|@OUT/d\n5d||755",
		"5.||0\n0f||x",
		"5./||4777\n5sub||0\n0sub/f||x",
		"0./a/./b/../c||x",
		"Sbig||x",
		"2x|x\n0x/y||loop",
	} {
		f.Add(spec)
	}
	s := newTarSandbox(f)
	f.Fuzz(func(t *testing.T, spec string) {
		archive := writeEntries(t, parseEntries(spec, s.top), s.out)
		if err := s.extractInto(t, archive); errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("extracting %q took more than 20 s", spec)
		}
	})
}
