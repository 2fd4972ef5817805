package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FuzzRestoreDir restores directory backups whose tar is built from
// FuzzExtractTreeEntries' line format through Restore itself: the staging
// directory beside the target, the rename, owners (as root) and the force
// path over a non-empty target. Nothing outside the target may change and
// no staging directory may be left behind; a failed restore into a missing
// target leaves it missing, and one over a non-empty target says that the
// directory is partially restored unless nothing was changed.
func FuzzRestoreDir(f *testing.F) {
	for _, spec := range []string{
		"5sub/\n0sub/f|||600\n2l|sub/f\n1h|sub/f",
		"0../evil||evil",
		"2l|@OUT\n0l/keep||evil",
		"2a/l|../..\n0a/l/evil||evil",
		"1h|@OUT/keep",
		"0to-outside/keep||evil",
		"5.||0\n0f||x",
		"0ok||fine\n0/abs||evil",
	} {
		f.Add(spec, false)
		f.Add(spec, true)
	}
	s := newTarSandbox(f)
	f.Fuzz(func(t *testing.T, spec string, force bool) {
		s.reset(t)
		if !force {
			if err := os.RemoveAll(s.target); err != nil {
				t.Fatal(err)
			}
			defer os.MkdirAll(s.target, 0o755)
		}
		archive := writeEntries(t, parseEntries(spec, s.top), s.out)
		ref := Ref{Source: "files", ID: fuzzRef.ID}
		r := newMemRepo()
		sealed := seal(t, ref, KindDirectory, archive, Encryption{Unencrypted: true})
		sealed.store(t, r, true)

		_, err := Restore(context.Background(), r, ref, nil, Target{Dir: s.target, Force: force}, RestoreOptions{})
		_ = filepath.WalkDir(s.top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasPrefix(p, s.target) {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		after := s.snapshot(t)
		for p, d := range s.before {
			if p == s.base {
				continue // the staging directory came and went
			}
			if after[p] != d {
				t.Fatalf("restoring %q changed %s outside the target: %q -> %q (error: %v)", spec, p, d, after[p], err)
			}
		}
		for p, d := range after {
			if _, ok := s.before[p]; !ok {
				t.Fatalf("restoring %q left %s (%s) outside the target (error: %v)", spec, p, d, err)
			}
		}
		switch {
		case err == nil:
			if fi, serr := os.Stat(s.target); serr != nil || !fi.IsDir() {
				t.Fatalf("restoring %q succeeded without a target directory: %v", spec, serr)
			}
		case errors.Is(err, ErrNotFound):
			t.Fatalf("restoring %q, a consistent backup: %v", spec, err)
		case errors.Is(err, ErrIntegrity) && !strings.Contains(err.Error(), "tar entry"):
			// Only an entry restore refuses (checkEntry) may make a backup
			// whose checksums match untrustworthy.
			t.Fatalf("restoring %q, a consistent backup: %v", spec, err)
		case !force:
			if _, serr := os.Lstat(s.target); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a failed restore of %q into a missing directory left it behind (%v): %v", spec, serr, err)
			}
			if !strings.Contains(err.Error(), "was not changed") {
				t.Fatalf("restoring %q: %v: the error does not say the target is unchanged", spec, err)
			}
		default:
			if !strings.Contains(err.Error(), "PARTIALLY RESTORED") {
				t.Fatalf("restoring %q with force: %v: the error does not say the directory is partially restored", spec, err)
			}
		}
	})
}

// TestVerifyRefusesWhatRestoreRefuses: a directory backup whose checksums
// match but whose tar holds an entry restore would refuse fails verify too
// (ErrIntegrity), so that "verified" means "restores".
func TestVerifyRefusesWhatRestoreRefuses(t *testing.T) {
	s := newTarSandbox(t)
	for _, spec := range []string{"0../evil||evil", "0ok||fine\n0/abs||evil", "1h|@OUT/keep"} {
		archive := writeEntries(t, parseEntries(spec, s.top), s.out)
		ref := Ref{Source: "files", ID: fuzzRef.ID}
		r := newMemRepo()
		seal(t, ref, KindDirectory, archive, Encryption{Unencrypted: true}).store(t, r, true)
		_, err := Verify(t.Context(), r, ref, nil, VerifyOptions{})
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "restore would refuse") {
			t.Errorf("verify of %q: %v, want an integrity error naming the entry", spec, err)
		}
	}
	// A harmless archive still verifies.
	archive := writeEntries(t, parseEntries("5sub/\n0sub/f|||600", s.top), s.out)
	ref := Ref{Source: "files", ID: fuzzRef.ID}
	r := newMemRepo()
	seal(t, ref, KindDirectory, archive, Encryption{Unencrypted: true}).store(t, r, true)
	if _, err := Verify(t.Context(), r, ref, nil, VerifyOptions{}); err != nil {
		t.Errorf("verify of a harmless archive: %v", err)
	}
}

// TestPlaintextCappedByManifest: an object that decompresses to more than
// its manifest says (a zstd bomb in a forged backup) is stopped as soon as
// it passes the manifest's size, not after it has all been read or written.
func TestPlaintextCappedByManifest(t *testing.T) {
	ref := Ref{Source: "files", ID: fuzzRef.ID}
	plain := make([]byte, 32<<20) // zeros: compresses to almost nothing
	s := seal(t, ref, KindEmbedded, append([]byte(sqliteMagic), plain...), Encryption{Unencrypted: true})
	s.manifest.Data.PlaintextSize = 1 << 20
	r := newMemRepo()
	s.store(t, r, true)
	out := filepath.Join(t.TempDir(), "restored.db")
	// A failed restore removes its temporary file, so what was written is
	// measured by the plaintext progress the restore reported.
	rec := &maxProgress{}
	_, err := Restore(t.Context(), r, ref, nil, Target{File: out}, RestoreOptions{Reporter: rec})
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "longer than the manifest") {
		t.Fatalf("restore of an object longer than its manifest: %v", err)
	}
	if n := rec.get(PhaseRestore); n == 0 || n > 2<<20 {
		t.Errorf("the restore read %d plaintext bytes before it stopped, the manifest says %d", n, 1<<20)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed restore left %s: %v", out, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("a failed restore left %v", ents)
	}
}

// maxProgress is a Reporter that keeps the largest progress of each phase.
type maxProgress struct {
	mu  sync.Mutex
	max map[Phase]int64
}

func (p *maxProgress) Progress(phase Phase, n, _ int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max == nil {
		p.max = map[Phase]int64{}
	}
	p.max[phase] = max(p.max[phase], n)
}

func (p *maxProgress) Warning(string) {}

func (p *maxProgress) get(phase Phase) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max[phase]
}
