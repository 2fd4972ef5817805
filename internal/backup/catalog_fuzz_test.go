package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// FuzzParseTime checks the times --at and Resolve accept: always UTC, a
// plain day meaning its last second, and stable when formatted again.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-11-23T02:00:00Z", "2026-11-23T02:00:00.123456789+02:00", "2026-11-23T02:00:00", "2026-11-23T02:00",
		"2026-11-23 02:00:00", "2026-11-23", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00+01:00", "9999-12-31",
		"2026-02-30", "2026-11-23T24:00:00Z", "2026-11-23T02:00:00+24:00", "latest", "", "20261123T020000Z-k3fza2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a time") {
				t.Fatalf("ParseTime(%q): unclear error %q", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
		}
		if day, err := time.Parse("2006-01-02", s); err == nil {
			if want := day.Add(24*time.Hour - time.Second); !got.Equal(want) {
				t.Fatalf("ParseTime(%q) = %v, want the day's last second %v", s, got, want)
			}
		}
		if exact, err := time.Parse(time.RFC3339Nano, s); err == nil && !got.Equal(exact) {
			t.Fatalf("ParseTime(%q) = %v, want %v", s, got, exact)
		}
		if got.Year() < 0 || got.Year() > 9999 {
			return // RFC 3339 has no spelling for it
		}
		again, err := ParseTime(got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, which does not parse back (%v, %v)", s, got, again, err)
		}
	})
}

// resolveFixture is one backup of FuzzResolve's repository.
type resolveFixture struct {
	ref   Ref
	state State
}

// resolveFixtures are the backups FuzzResolve resolves against: two
// sources, one id present in both, an incomplete and a damaged backup
// (and, not listed here, a stray one that must never be found).
var resolveFixtures = []resolveFixture{
	{Ref{"db", "20261120T020000Z-aaaaaa"}, StateComplete},
	{Ref{"db", "20261121T020000Z-aaaaaa"}, StateComplete},
	{Ref{"db", "20261122T020000Z-aaaaaa"}, StateComplete},
	{Ref{"db", "20261122T120000Z-aaaaaa"}, StateDamaged},
	{Ref{"db", "20261123T020000Z-aaaaaa"}, StateIncomplete},
	{Ref{"files", "20261121T020000Z-aaaaaa"}, StateComplete},
	{Ref{"files", "20261121T030000Z-bbbbbb"}, StateComplete},
}

// newResolveRepo stores resolveFixtures in a memRepo.
func newResolveRepo(tb testing.TB) *memRepo {
	tb.Helper()
	r := newMemRepo()
	for _, fx := range resolveFixtures {
		s := seal(tb, fx.ref, KindDirectory, []byte("tar of "+fx.ref.String()), Encryption{Unencrypted: true})
		s.store(tb, r, fx.state != StateIncomplete)
		if fx.state == StateDamaged {
			t, _ := ParseID(fx.ref.ID)
			r.set(s.manifest.dataKey(), s.object[:len(s.object)-1], t) // truncated
		}
	}
	// A complete-looking backup under an id that names no time (month 13):
	// NewID never writes one, so it is a stray object, never a candidate.
	stray := seal(tb, Ref{"db", "20261124T020000Z-aaaaaa"}, KindDirectory, []byte("stray"), Encryption{Unencrypted: true})
	stray.manifest.ID = "20261399T020000Z-aaaaaa"
	stray.store(tb, r, true)
	return r
}

// resolveOracle says what Resolve must return for source and ref, from the
// fixtures alone: the backup, or which kind of error.
func resolveOracle(source, ref string) (want *resolveFixture, wantErr error) {
	errUsage := errors.New("usage")
	ref = strings.TrimSpace(ref)
	if s, id, ok := strings.Cut(ref, "/"); ok {
		if source != "" && source != s {
			return nil, errUsage
		}
		source, ref = s, id
	}
	if source != "" && ValidateSourceName(source) != nil {
		return nil, errUsage
	}
	var in []resolveFixture
	sources := map[string]bool{}
	for _, fx := range resolveFixtures {
		if source == "" || fx.ref.Source == source {
			in = append(in, fx)
			sources[fx.ref.Source] = true
		}
	}
	newest := func(at *time.Time) (*resolveFixture, error) {
		if len(sources) > 1 {
			return nil, errUsage
		}
		var best *resolveFixture
		for i, fx := range in {
			t, _ := ParseID(fx.ref.ID)
			if fx.state == StateComplete && (at == nil || !t.After(*at)) {
				best = &in[i]
			}
		}
		if best == nil {
			return nil, ErrNotFound
		}
		return best, nil
	}
	if ref == "latest" {
		return newest(nil)
	}
	if _, err := ParseID(ref); err == nil {
		var found []resolveFixture
		for _, fx := range in {
			if fx.ref.ID == ref {
				found = append(found, fx)
			}
		}
		switch {
		case len(found) == 0:
			return nil, ErrNotFound
		case len(found) > 1:
			return nil, errUsage
		case found[0].state == StateIncomplete:
			return nil, ErrIncomplete
		case found[0].state == StateDamaged:
			return nil, ErrIntegrity
		}
		return &found[0], nil
	}
	if t, err := ParseTime(ref); err == nil {
		return newest(&t)
	}
	return nil, errUsage
}

// FuzzResolve resolves fuzzed --source and backup references ("latest",
// ids, source/id, times) in a repository with known backups and compares
// the outcome with resolveOracle: never an incomplete or damaged backup,
// never one after the time asked for, and errors of the documented kinds.
func FuzzResolve(f *testing.F) {
	for _, s := range [][2]string{
		{"", "latest"}, {"db", "latest"}, {"", "db/latest"}, {"files", "db/latest"}, {"db", " latest\n"},
		{"", "20261120T020000Z-aaaaaa"}, {"", "20261121T020000Z-aaaaaa"}, {"files", "20261121T020000Z-aaaaaa"},
		{"db", "20261122T120000Z-aaaaaa"}, {"db", "20261123T020000Z-aaaaaa"}, {"", "db/20261199T020000Z-aaaaaa"},
		{"db", "2026-11-21"}, {"db", "2026-11-21T02:00:00Z"}, {"db", "2026-11-21T01:59:59.999Z"}, {"db", "2026-11-20"},
		{"db", "2026-11-21T03:00:00+01:00"}, {"db", "0001-01-01T00:00:00Z"}, {"db", "0001-01-01T01:00:00+01:00"},
		{"../db", "latest"}, {"db/x", "latest"}, {"", "/latest"}, {"", "db/"}, {"", "db/x/y"}, {"DB", "latest"},
	} {
		f.Add(s[0], s[1])
	}
	r := newResolveRepo(f)
	f.Fuzz(func(t *testing.T, source, ref string) {
		e, err := Resolve(context.Background(), r, source, ref)
		want, wantErr := resolveOracle(source, ref)
		if err != nil {
			for _, never := range []error{ErrLocked, repo.ErrUnavailable, repo.ErrNotFound} {
				if errors.Is(err, never) {
					t.Fatalf("Resolve(%q, %q): %v", source, ref, err)
				}
			}
			switch {
			case wantErr == nil:
				t.Fatalf("Resolve(%q, %q) = %v, want %s", source, ref, err, want.ref)
			case wantErr == ErrIncomplete || wantErr == ErrIntegrity || wantErr == ErrNotFound:
				if !errors.Is(err, wantErr) {
					t.Fatalf("Resolve(%q, %q) = %v, want %v", source, ref, err, wantErr)
				}
				if wantErr != ErrIncomplete && errors.Is(err, ErrIncomplete) {
					t.Fatalf("Resolve(%q, %q) = %v, want %v", source, ref, err, wantErr)
				}
			default:
				if errors.Is(err, ErrNotFound) || errors.Is(err, ErrIntegrity) {
					t.Fatalf("Resolve(%q, %q) = %v, want a usage error", source, ref, err)
				}
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("Resolve(%q, %q) = %s (%s), want an error (%v)", source, ref, e.Ref, e.State, wantErr)
		}
		if e.Ref != want.ref {
			t.Fatalf("Resolve(%q, %q) = %s, want %s", source, ref, e.Ref, want.ref)
		}
		if !e.Complete() || e.Manifest == nil || e.Manifest.Ref() != e.Ref {
			t.Fatalf("Resolve(%q, %q) = %s in state %s (%s)", source, ref, e.Ref, e.State, e.Problem)
		}
	})
}
