package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// FuzzParseID checks the parsers of the repository layout on one string:
// ParseID (ids given on the command line and found in keys), splitKey (keys
// listed from a repository) and ValidateSourceName (flags and config). An
// accepted id or source name must make keys every repository accepts, and
// a split key must put itself back together.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"20261123T020000Z-k3fza2", "20261123T020000Z-k3fa2b", "20261123T020000Z-777777", "20261123T020000Z-222222",
		"20261331T250000Z-aaaaaa", "00000101T000000Z-aaaaaa", "99991231T235959Z-zzzzzz", "20261123T020000Z-aaaaa",
		"db/20261123T020000Z-k3fza2/manifest.json", "db/20261123T020000Z-k3fza2/data.zst.age", "db/lock",
		"../20261123T020000Z-k3fza2/x", "db/20261123T020000Z-k3fza2/", "db/20261123T020000Z-k3fza2/../../etc",
		"db", ".", "..", "-db", "a.b_c-d", strings.Repeat("a", 101), "db\x00", "db/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := ParseID(s); err == nil {
			if !idPattern.MatchString(s) {
				t.Fatalf("ParseID accepted %q, which the id pattern does not match", s)
			}
			if tm.Location() != time.UTC {
				t.Fatalf("ParseID(%q) is in %v, want UTC", s, tm.Location())
			}
			if got := tm.Format(idTimeLayout); got != s[:len(idTimeLayout)] {
				t.Fatalf("ParseID(%q) = %v, which formats as %q", s, tm, got)
			}
			if tm.Nanosecond()%int(time.Millisecond) != 0 {
				t.Fatalf("ParseID(%q) = %v: finer than a millisecond", s, tm)
			}
			ref := Ref{Source: "db", ID: s}
			for _, key := range []string{ref.manifestKey(), ref.verifiedKey(), ref.dataKey(true), ref.dataKey(false)} {
				if err := repo.ValidKey(key); err != nil {
					t.Fatalf("the id %q makes an invalid key: %v", s, err)
				}
				got, name, ok := splitKey(key)
				if !ok || got != ref || got.Prefix()+name != key {
					t.Fatalf("splitKey(%q) = %v, %q, %v", key, got, name, ok)
				}
			}
		} else if !strings.Contains(err.Error(), "not a backup id") {
			t.Fatalf("ParseID(%q): unclear error %q", s, err)
		}

		if err := ValidateSourceName(s); err == nil {
			if err := repo.ValidKey(lockKey(s)); err != nil {
				t.Fatalf("the source name %q makes an invalid lock key: %v", s, err)
			}
			ref := Ref{Source: s, ID: fuzzRef.ID}
			if err := repo.ValidKey(ref.manifestKey()); err != nil {
				t.Fatalf("the source name %q makes an invalid key: %v", s, err)
			}
			// Listing one source must never list another's backups.
			if strings.ContainsAny(s, "/\\") || s == "." || s == ".." {
				t.Fatalf("accepted source name %q", s)
			}
		}

		if ref, name, ok := splitKey(s); ok {
			if ref.Prefix()+name != s {
				t.Fatalf("splitKey(%q) = %v, %q: does not rebuild the key", s, ref, name)
			}
			if err := ValidateSourceName(ref.Source); err != nil {
				t.Fatalf("splitKey(%q) accepted source %q: %v", s, ref.Source, err)
			}
			if _, err := ParseID(ref.ID); err != nil {
				t.Fatalf("splitKey(%q) accepted id %q: %v", s, ref.ID, err)
			}
		}
	})
}

// FuzzNewID checks that ids round-trip through ParseID to the millisecond
// and sort in time order as strings, which List, latest and prune rely on.
func FuzzNewID(f *testing.F) {
	f.Add(int64(1795399200), int64(0), int64(1))
	f.Add(int64(1795399200), int64(999_999_999), int64(1))
	f.Add(int64(0), int64(500_000_000), int64(1000))
	f.Add(int64(-62135596800), int64(0), int64(86400_000))
	f.Add(int64(253402300799), int64(998_000_000), int64(1))
	f.Fuzz(func(t *testing.T, sec, nsec, deltaMS int64) {
		// Years 0 to 9999: the id's time part has four digits.
		const lo, hi = -62167219200, 253402300800
		if sec < lo || sec >= hi {
			return
		}
		t1 := time.Unix(sec, (nsec%int64(time.Second)+int64(time.Second))%int64(time.Second)).UTC()
		id := NewID(t1)
		got, err := ParseID(id)
		if err != nil {
			t.Fatalf("NewID(%v) = %q, which ParseID rejects: %v", t1, id, err)
		}
		if want := t1.Truncate(time.Millisecond); !got.Equal(want) {
			t.Fatalf("ParseID(NewID(%v)) = %v, want %v", t1, got, want)
		}
		if deltaMS <= 0 {
			return
		}
		t2 := t1.Add(time.Duration(deltaMS%(1<<40)) * time.Millisecond)
		if t2.Unix() >= hi || t2.Truncate(time.Millisecond).Equal(t1.Truncate(time.Millisecond)) {
			return
		}
		if id2 := NewID(t2); id >= id2 {
			t.Fatalf("NewID(%v) = %q does not sort before NewID(%v) = %q", t1, id, t2, id2)
		}
	})
}
