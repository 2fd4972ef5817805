package backup

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// pruneEntries decodes spec into backups of one source, oldest first: three
// bytes each, a state and an age in units of 37 minutes (up to 4.6 years).
func pruneEntries(now time.Time, spec []byte) []Entry {
	var out []Entry
	for i := 0; i+3 <= len(spec) && len(out) < 200; i += 3 {
		age := time.Duration(int(spec[i+1])<<8|int(spec[i+2])) * 37 * time.Minute
		t := now.Add(-age).Add(-time.Duration(i) * time.Millisecond)
		e := Entry{Ref: Ref{Source: "db", ID: NewID(t)}, State: []State{StateComplete, StateIncomplete, StateDamaged}[spec[i]%3]}
		e.Time, _ = ParseID(e.ID)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// FuzzDecide applies fuzzed retention policies (flags and config give any
// int) to fuzzed backup histories. Negative values must be refused; any
// other policy must keep what its rules promise: the newest complete
// backup, damaged backups, young incomplete ones, the keep-last newest and
// everything younger than keep-days, however large the numbers.
func FuzzDecide(f *testing.F) {
	daily := make([]byte, 0, 3*60)
	for d := range 60 {
		h := d * 24 * 60 / 37
		daily = append(daily, 0, byte(h>>8), byte(h))
	}
	f.Add(0, 0, 0, 0, 0, int64(0), daily)
	f.Add(3, 7, 7, 4, 12, int64(0), daily)
	f.Add(1, 0, 0, 0, 0, int64(time.Hour), []byte{1, 0, 1, 2, 0, 2, 0, 0, 3, 1, 255, 255})
	f.Add(0, 200000, 0, 0, 0, int64(0), daily)
	f.Add(0, 0, 1<<40, 1<<40, 1<<40, int64(1<<62), daily)
	f.Add(-1, 0, 0, 0, 0, int64(0), daily)
	f.Add(0, 0, 0, 0, 0, int64(-1), daily)
	// Every backup older than any rule keeps: only "the newest complete
	// backup" keeps one.
	f.Add(0, 1, 0, 0, 0, int64(0), []byte{0, 0xff, 0xf0, 0, 0xff, 0x00, 1, 0x00, 0x01})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, keepLast, keepDays, keepDaily, keepWeekly, keepMonthly int, grace int64, spec []byte) {
		p := Policy{KeepLast: keepLast, KeepDays: keepDays, KeepDaily: keepDaily, KeepWeekly: keepWeekly,
			KeepMonthly: keepMonthly, IncompleteGrace: time.Duration(grace)}
		np, err := p.normalise()
		negative := keepLast < 0 || keepDays < 0 || keepDaily < 0 || keepWeekly < 0 || keepMonthly < 0 || grace < 0
		if negative != (err != nil) {
			t.Fatalf("normalise(%+v) = %v", p, err)
		}
		if err != nil {
			return
		}
		entries := pruneEntries(now, spec)
		decisions := decide(entries, np, now)
		if len(decisions) != len(entries) {
			t.Fatalf("%d decisions for %d backups", len(decisions), len(entries))
		}
		var complete []int // newest first
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].State == StateComplete {
				complete = append(complete, i)
			}
		}
		mustKeep := func(i int, why string) {
			if !decisions[i].Keep {
				t.Fatalf("policy %+v deletes %s (%s, %s old): %s should keep it; reasons %q",
					np, entries[i].ID, entries[i].State, now.Sub(entries[i].Time), why, decisions[i].Reasons)
			}
		}
		for n, i := range complete {
			if n == 0 {
				mustKeep(i, "the newest complete backup")
			}
			if n < np.KeepLast {
				mustKeep(i, fmt.Sprintf("keep-last %d", np.KeepLast))
			}
			// In days, as a float: a product in nanoseconds could overflow.
			if age := now.Sub(entries[i].Time); np.KeepDays > 0 && age.Hours()/24 < float64(np.KeepDays) {
				mustKeep(i, fmt.Sprintf("keep-days %d", np.KeepDays))
			}
		}
		dayKept := map[string]bool{}
		for _, i := range complete {
			k := entries[i].Time.UTC().Format("2006-01-02")
			if len(dayKept) < np.KeepDaily && !dayKept[k] {
				dayKept[k] = true
				mustKeep(i, fmt.Sprintf("keep-daily %d", np.KeepDaily))
			}
		}
		for i, e := range entries {
			d := decisions[i]
			if d.Entry.Ref != e.Ref {
				t.Fatalf("decision %d is about %s, not %s", i, d.Entry.Ref, e.Ref)
			}
			switch e.State {
			case StateDamaged:
				mustKeep(i, "a damaged backup")
			case StateIncomplete:
				if young := now.Sub(lastActivity(e)) < np.IncompleteGrace; young != d.Keep {
					t.Fatalf("incomplete %s, %s old, grace %s: keep = %v", e.ID, now.Sub(e.Time), np.IncompleteGrace, d.Keep)
				}
			}
			if len(d.Reasons) == 0 {
				t.Fatalf("no reason given for %s (keep = %v)", e.ID, d.Keep)
			}
		}
	})
}
