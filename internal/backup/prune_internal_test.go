package backup

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s string) Entry {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return Entry{Ref: Ref{Source: "db", ID: NewID(tm)}, Time: tm, State: StateComplete}
	}
	state := func(e Entry, s State) Entry { e.State = s; return e }
	// Daily backups at 02:00 for 100 days, plus a second one on the last day.
	var daily []Entry
	for d := 99; d >= 0; d-- {
		daily = append(daily, at(now.AddDate(0, 0, -d).Format("2006-01-02")+" 02:00"))
	}
	daily = append(daily, at("2026-11-23 10:00"))

	cases := []struct {
		name    string
		entries []Entry
		policy  Policy
		keep    []string // times kept, "2006-01-02 15:04"
	}{
		{
			name:    "keep-last",
			entries: daily,
			policy:  Policy{KeepLast: 3},
			keep:    []string{"2026-11-22 02:00", "2026-11-23 02:00", "2026-11-23 10:00"},
		},
		{
			name:    "keep-days",
			entries: daily,
			policy:  Policy{KeepDays: 2},
			keep:    []string{"2026-11-22 02:00", "2026-11-23 02:00", "2026-11-23 10:00"},
		},
		{
			name:    "keep-daily takes the newest of each day",
			entries: daily,
			policy:  Policy{KeepDaily: 2},
			keep:    []string{"2026-11-22 02:00", "2026-11-23 10:00"},
		},
		{
			// 2026-11-23 is a Monday: weeks 48, 47 and 46 end on the Sundays before.
			name:    "keep-weekly",
			entries: daily,
			policy:  Policy{KeepWeekly: 3},
			keep:    []string{"2026-11-15 02:00", "2026-11-22 02:00", "2026-11-23 10:00"},
		},
		{
			name:    "keep-monthly",
			entries: daily,
			policy:  Policy{KeepMonthly: 4},
			keep:    []string{"2026-08-31 02:00", "2026-09-30 02:00", "2026-10-31 02:00", "2026-11-23 10:00"},
		},
		{
			name:    "the newest complete backup is always kept",
			entries: []Entry{at("2025-01-01 02:00"), at("2025-01-02 02:00"), state(at("2025-01-03 02:00"), StateIncomplete)},
			policy:  Policy{KeepDays: 1},
			keep:    []string{"2025-01-02 02:00"},
		},
		{
			name:    "the zero policy keeps 30 days",
			entries: []Entry{at("2026-10-01 02:00"), at("2026-10-20 02:00"), at("2026-11-01 02:00")},
			policy:  Policy{},
			keep:    []string{"2026-11-01 02:00"},
		},
		{
			name: "incomplete: deleted after the grace period, damaged: kept",
			entries: []Entry{state(at("2026-11-20 02:00"), StateIncomplete), state(at("2026-11-21 02:00"), StateDamaged),
				at("2026-11-22 02:00"), state(at("2026-11-23 11:30"), StateIncomplete)},
			policy: Policy{KeepLast: 1},
			keep:   []string{"2026-11-21 02:00", "2026-11-22 02:00", "2026-11-23 11:30"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.policy.normalise()
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, d := range decide(tc.entries, p, now) {
				if len(d.Reasons) == 0 {
					t.Errorf("%s: no reason given", d.Entry.Time)
				}
				if d.Keep {
					kept = append(kept, d.Entry.Time.Format("2006-01-02 15:04"))
				}
			}
			slices.Sort(kept)
			if !slices.Equal(kept, tc.keep) {
				t.Errorf("kept %q, want %q", kept, tc.keep)
			}
		})
	}
}

func TestPolicyValidation(t *testing.T) {
	if _, err := (Policy{KeepLast: -1}).normalise(); err == nil {
		t.Error("a negative count was accepted")
	}
	p, _ := Policy{KeepDaily: 7}.normalise()
	if p.KeepDays != 0 || p.IncompleteGrace != DefaultIncompleteGrace {
		t.Errorf("normalised %+v", p)
	}
}

func TestIDs(t *testing.T) {
	base := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 2000 {
		tm := base.Add(time.Duration(i) * 1300 * time.Microsecond) // a new millisecond each time
		id := NewID(tm)
		got, err := ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		if want := tm.Truncate(time.Millisecond); !got.Equal(want) {
			t.Fatalf("ParseID(%s) = %v, want %v", id, got, want)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Error("ids of increasing times do not sort in order")
	}
	if !strings.HasPrefix(ids[0], "20261123T020000Z-") || len(ids[0]) != len("20261123T020000Z-")+6 {
		t.Errorf("id %q", ids[0])
	}
	if a, b := NewID(base), NewID(base); a == b {
		t.Errorf("two ids of the same moment are equal: %s", a)
	}
	for _, bad := range []string{"", "20261123T020000Z", "20261123T020000Z-ABCDEF", "2026-11-23-abcdef", "20261123T020000Z-abcdef/x"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestSplitKey(t *testing.T) {
	for key, want := range map[string]bool{
		"db/20261123T020000Z-abcdef/manifest.json": true,
		"db/20261123T020000Z-abcdef/data.zst.age":  true,
		"db/lock":                           false,
		"db/20261123T020000Z-abcdef":        false,
		"db/not-an-id/manifest.json":        false,
		".hidden/20261123T020000Z-abcdef/x": false,
	} {
		if _, _, ok := splitKey(key); ok != want {
			t.Errorf("splitKey(%q) ok = %v", key, ok)
		}
	}
}
