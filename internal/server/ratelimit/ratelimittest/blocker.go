package ratelimittest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

// RunBlocker runs the Blocker conformance suite. newBlocker is called once
// per subtest and must return a blocker holding no state.
func RunBlocker(t *testing.T, newBlocker func(t *testing.T) ratelimit.Blocker) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, ratelimit.Blocker)
	}{
		{"ThresholdConsecutiveViolationsBlock", testThresholdBlocks},
		{"ThresholdOne", testThresholdOne},
		{"BlockClearsTheCount", testBlockClearsCount},
		{"ResetViolations", testResetViolations},
		{"ViolationsFartherApartThanWindow", testViolationWindow},
		{"BlockExpires", testBlockExpires},
		{"ManualBlockAndUnblock", testManualBlock},
		{"BlockedList", testBlockedList},
		{"IndependentKeys", testBlockerIndependentKeys},
		{"InvalidRule", testInvalidRule},
		{"ConcurrentViolationsBlockOnce", testConcurrentViolations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newBlocker(t)) })
	}
}

// rule is the suites' BlockRule: three strikes within ten minutes of each
// other block for an hour.
var rule = ratelimit.BlockRule{Threshold: 3, Duration: time.Hour, Window: 10 * time.Minute}

func record(t *testing.T, b ratelimit.Blocker, key string, r ratelimit.BlockRule, now time.Time) ratelimit.Violation {
	t.Helper()
	v, err := b.RecordViolation(t.Context(), key, r, now)
	if err != nil {
		t.Fatalf("RecordViolation(%q, %+v, +%v): %v", key, r, now.Sub(epoch), err)
	}
	return v
}

// wantViolation compares field by field, times with Equal.
func wantViolation(t *testing.T, desc string, got, want ratelimit.Violation) {
	t.Helper()
	if got.Count != want.Count || got.Blocked != want.Blocked || got.NewBlock != want.NewBlock || !got.Until.Equal(want.Until) {
		t.Errorf("%s: RecordViolation = %s, want %s", desc, violationString(got), violationString(want))
	}
}

func violationString(v ratelimit.Violation) string {
	until := "-"
	if !v.Until.IsZero() {
		until = "+" + v.Until.Sub(epoch).String()
	}
	return fmt.Sprintf("{count %d blocked %t new %t until %s}", v.Count, v.Blocked, v.NewBlock, until)
}

func wantBlocked(t *testing.T, b ratelimit.Blocker, key string, now time.Time, want bool, wantUntil time.Time) {
	t.Helper()
	blocked, until, err := b.IsBlocked(t.Context(), key, now)
	if err != nil {
		t.Fatalf("IsBlocked(%q): %v", key, err)
	}
	if blocked != want || (want && !until.Equal(wantUntil)) {
		t.Errorf("IsBlocked(%q, +%v) = %t until %v, want %t until %v", key, now.Sub(epoch), blocked, until, want, wantUntil)
	}
}

func testThresholdBlocks(t *testing.T, b ratelimit.Blocker) {
	key := "203.0.113.9"
	wantViolation(t, "first", record(t, b, key, rule, epoch), ratelimit.Violation{Count: 1})
	wantBlocked(t, b, key, epoch, false, time.Time{})
	wantViolation(t, "second", record(t, b, key, rule, at(time.Minute)), ratelimit.Violation{Count: 2})
	wantBlocked(t, b, key, at(time.Minute), false, time.Time{})
	until := at(2*time.Minute + time.Hour)
	wantViolation(t, "third", record(t, b, key, rule, at(2*time.Minute)),
		ratelimit.Violation{Count: 3, Blocked: true, NewBlock: true, Until: until})
	wantBlocked(t, b, key, at(2*time.Minute), true, until)
	// Violations during the block count nothing and do not extend it.
	for _, d := range []time.Duration{2 * time.Minute, 3 * time.Minute, 50 * time.Minute} {
		wantViolation(t, fmt.Sprintf("while blocked at +%v", d), record(t, b, key, rule, at(d)),
			ratelimit.Violation{Blocked: true, Until: until})
	}
	wantBlocked(t, b, key, at(time.Hour), true, until)
	// The count was cleared when the block was placed: after it, one
	// violation is one, not four.
	wantViolation(t, "after the block", record(t, b, key, rule, until), ratelimit.Violation{Count: 1})
}

func testThresholdOne(t *testing.T, b ratelimit.Blocker) {
	r := ratelimit.BlockRule{Threshold: 1, Duration: time.Minute, Window: time.Minute}
	wantViolation(t, "first", record(t, b, "192.0.2.1", r, epoch),
		ratelimit.Violation{Count: 1, Blocked: true, NewBlock: true, Until: at(time.Minute)})
}

// testBlockClearsCount uses a block shorter than the window: the violations
// that placed it must not linger and count again once it ends.
func testBlockClearsCount(t *testing.T, b ratelimit.Blocker) {
	r := ratelimit.BlockRule{Threshold: 3, Duration: time.Minute, Window: time.Hour}
	key := "198.51.100.12"
	for range r.Threshold {
		record(t, b, key, r, epoch)
	}
	wantBlocked(t, b, key, epoch, true, at(time.Minute))
	wantViolation(t, "first after the block", record(t, b, key, r, at(time.Minute)), ratelimit.Violation{Count: 1})
	wantViolation(t, "second after the block", record(t, b, key, r, at(time.Minute)), ratelimit.Violation{Count: 2})
}

func testResetViolations(t *testing.T, b ratelimit.Blocker) {
	key := "198.51.100.3"
	if err := b.ResetViolations(t.Context(), key); err != nil {
		t.Fatalf("ResetViolations of an unknown key: %v", err)
	}
	record(t, b, key, rule, epoch)
	record(t, b, key, rule, epoch)
	if err := b.ResetViolations(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, "first after reset", record(t, b, key, rule, epoch), ratelimit.Violation{Count: 1})
	wantViolation(t, "second after reset", record(t, b, key, rule, epoch), ratelimit.Violation{Count: 2})
	v := record(t, b, key, rule, epoch)
	if !v.NewBlock {
		t.Fatalf("third after reset: %s, want a new block", violationString(v))
	}
	// Resetting the count of a blocked key does not lift its block.
	if err := b.ResetViolations(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantBlocked(t, b, key, epoch, true, at(time.Hour))
}

func testViolationWindow(t *testing.T, b ratelimit.Blocker) {
	key := "2001:db8:1:2::/64"
	// The window runs from the latest violation, not the first: three
	// violations 9m59.999s apart block although they span 20 minutes.
	gap := rule.Window - ms
	wantViolation(t, "first", record(t, b, key, rule, epoch), ratelimit.Violation{Count: 1})
	wantViolation(t, "second", record(t, b, key, rule, at(gap)), ratelimit.Violation{Count: 2})
	wantViolation(t, "third", record(t, b, key, rule, at(2*gap)),
		ratelimit.Violation{Count: 3, Blocked: true, NewBlock: true, Until: at(2*gap + time.Hour)})

	// A count is forgotten exactly Window after its latest violation.
	other := "192.0.2.44"
	wantViolation(t, "first", record(t, b, other, rule, epoch), ratelimit.Violation{Count: 1})
	wantViolation(t, "second", record(t, b, other, rule, at(time.Minute)), ratelimit.Violation{Count: 2})
	wantViolation(t, "Window after the second", record(t, b, other, rule, at(time.Minute+rule.Window)), ratelimit.Violation{Count: 1})
	wantViolation(t, "an hour later", record(t, b, other, rule, at(2*time.Hour)), ratelimit.Violation{Count: 1})
	wantViolation(t, "soon after", record(t, b, other, rule, at(2*time.Hour+time.Second)), ratelimit.Violation{Count: 2})
	wantBlocked(t, b, other, at(2*time.Hour+time.Second), false, time.Time{})
}

func testBlockExpires(t *testing.T, b ratelimit.Blocker) {
	key := "192.0.2.77"
	for range 3 {
		record(t, b, key, rule, epoch)
	}
	until := at(time.Hour)
	wantBlocked(t, b, key, at(time.Hour-ms), true, until)
	wantBlocked(t, b, key, until, false, time.Time{}) // an expiry at now is past
	wantBlocked(t, b, key, at(2*time.Hour), false, time.Time{})
	if list, err := b.Blocked(t.Context(), until); err != nil || len(list) != 0 {
		t.Errorf("Blocked at the expiry = %v, %v; want none", list, err)
	}
}

func testManualBlock(t *testing.T, b ratelimit.Blocker) {
	key := "203.0.113.200"
	record(t, b, key, rule, epoch)
	record(t, b, key, rule, epoch)
	until, err := b.Block(t.Context(), key, 30*time.Minute, at(time.Minute))
	if err != nil || !until.Equal(at(31*time.Minute)) {
		t.Fatalf("Block = %v, %v; want +31m", until, err)
	}
	wantBlocked(t, b, key, at(time.Minute), true, until)
	wantViolation(t, "while manually blocked", record(t, b, key, rule, at(2*time.Minute)),
		ratelimit.Violation{Blocked: true, Until: until})

	// A second Block replaces the first, shorter or longer.
	until, err = b.Block(t.Context(), key, 5*time.Minute, at(3*time.Minute))
	if err != nil || !until.Equal(at(8*time.Minute)) {
		t.Fatalf("second Block = %v, %v; want +8m", until, err)
	}
	wantBlocked(t, b, key, at(8*time.Minute-ms), true, until)
	wantBlocked(t, b, key, at(8*time.Minute), false, time.Time{})

	// Block cleared the two earlier violations.
	wantViolation(t, "after the manual block", record(t, b, key, rule, at(8*time.Minute)), ratelimit.Violation{Count: 1})

	if _, err := b.Block(t.Context(), key, time.Hour, at(9*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.Unblock(t.Context(), key); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	wantBlocked(t, b, key, at(9*time.Minute), false, time.Time{})
	wantViolation(t, "after Unblock", record(t, b, key, rule, at(9*time.Minute)), ratelimit.Violation{Count: 1})
	record(t, b, key, rule, at(9*time.Minute))
	if err := b.Unblock(t.Context(), key); err != nil {
		t.Fatalf("Unblock of a key that is not blocked: %v", err)
	}
	wantViolation(t, "Unblock clears the count", record(t, b, key, rule, at(9*time.Minute)), ratelimit.Violation{Count: 1})
	if err := b.Unblock(t.Context(), "198.51.100.250"); err != nil {
		t.Errorf("Unblock of an unknown key: %v", err)
	}
	for _, d := range []time.Duration{0, -time.Minute, 367 * 24 * time.Hour} {
		if _, err := b.Block(t.Context(), "192.0.2.1", d, epoch); !errors.Is(err, ratelimit.ErrInvalidBlockRule) {
			t.Errorf("Block for %v: error %v, want ErrInvalidBlockRule", d, err)
		}
	}
	wantBlocked(t, b, "192.0.2.1", epoch, false, time.Time{})
}

func testBlockedList(t *testing.T, b ratelimit.Blocker) {
	list := func(now time.Time) []ratelimit.BlockedKey {
		t.Helper()
		l, err := b.Blocked(t.Context(), now)
		if err != nil {
			t.Fatalf("Blocked: %v", err)
		}
		return l
	}
	if l := list(epoch); len(l) != 0 {
		t.Fatalf("Blocked on an empty blocker = %v", l)
	}
	block := func(key string, d time.Duration) {
		t.Helper()
		if _, err := b.Block(t.Context(), key, d, epoch); err != nil {
			t.Fatal(err)
		}
	}
	block("192.0.2.30", 30*time.Minute)
	for range rule.Threshold {
		record(t, b, "2001:db8:1:2::/64", rule, epoch) // until +1h
	}
	block("192.0.2.3", 30*time.Minute)
	block("192.0.2.10", 10*time.Minute)
	block("198.51.100.1", 20*time.Minute)
	if err := b.Unblock(t.Context(), "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	record(t, b, "203.0.113.1", rule, epoch) // counted, not blocked

	type entry struct {
		key   string
		until time.Duration
	}
	check := func(now time.Duration, want []entry) {
		t.Helper()
		got := list(at(now))
		var gotEntries []entry
		for _, k := range got {
			gotEntries = append(gotEntries, entry{k.Key, k.Until.Sub(epoch)})
		}
		if !slices.Equal(gotEntries, want) {
			t.Errorf("Blocked at +%v = %v, want %v", now, gotEntries, want)
		}
	}
	// Ordered by Until, then by Key as a string.
	check(time.Minute, []entry{
		{"192.0.2.10", 10 * time.Minute},
		{"192.0.2.3", 30 * time.Minute},
		{"192.0.2.30", 30 * time.Minute},
		{"2001:db8:1:2::/64", time.Hour},
	})
	check(10*time.Minute, []entry{
		{"192.0.2.3", 30 * time.Minute},
		{"192.0.2.30", 30 * time.Minute},
		{"2001:db8:1:2::/64", time.Hour},
	})
	check(time.Hour, nil)
}

func testBlockerIndependentKeys(t *testing.T, b ratelimit.Blocker) {
	a, c := "192.0.2.1", "192.0.2.10"
	record(t, b, a, rule, epoch)
	record(t, b, a, rule, epoch)
	wantViolation(t, "other key", record(t, b, c, rule, epoch), ratelimit.Violation{Count: 1})
	if v := record(t, b, a, rule, epoch); !v.NewBlock {
		t.Fatalf("third violation of %s: %s, want a new block", a, violationString(v))
	}
	wantBlocked(t, b, c, epoch, false, time.Time{})
	wantViolation(t, "other key after the block", record(t, b, c, rule, epoch), ratelimit.Violation{Count: 2})
	if err := b.ResetViolations(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := b.Unblock(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	wantBlocked(t, b, a, epoch, true, at(time.Hour))
}

func testInvalidRule(t *testing.T, b ratelimit.Blocker) {
	bad := []ratelimit.BlockRule{
		{},
		{Threshold: 0, Duration: time.Hour, Window: time.Hour},
		{Threshold: -1, Duration: time.Hour, Window: time.Hour},
		{Threshold: 5, Duration: 0, Window: time.Hour},
		{Threshold: 5, Duration: time.Hour, Window: 0},
		{Threshold: 5, Duration: time.Hour, Window: -time.Hour},
		{Threshold: 5, Duration: 367 * 24 * time.Hour, Window: time.Hour},
		{Threshold: 5, Duration: time.Hour, Window: 367 * 24 * time.Hour},
	}
	key := "203.0.113.66"
	for _, r := range bad {
		v, err := b.RecordViolation(t.Context(), key, r, epoch)
		if !errors.Is(err, ratelimit.ErrInvalidBlockRule) {
			t.Errorf("RecordViolation with %+v: error %v, want ErrInvalidBlockRule", r, err)
		}
		if v.Blocked || v.Count != 0 {
			t.Errorf("RecordViolation with %+v = %s, want nothing", r, violationString(v))
		}
	}
	wantViolation(t, "after the refused calls", record(t, b, key, rule, epoch), ratelimit.Violation{Count: 1})
}

// testConcurrentViolations races one key's violations: the counts 1 to
// Threshold are each handed out once, exactly one call places the block and
// every later one finds it.
func testConcurrentViolations(t *testing.T, b ratelimit.Blocker) {
	const goroutines, calls = 16, 25
	r := ratelimit.BlockRule{Threshold: 50, Duration: time.Hour, Window: time.Hour}
	var mu sync.Mutex
	var counts []int
	newBlocks, blocked := 0, 0
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				v, err := b.RecordViolation(t.Context(), "198.51.100.99", r, epoch)
				if err != nil {
					t.Errorf("RecordViolation: %v", err)
					return
				}
				mu.Lock()
				if v.Count > 0 {
					counts = append(counts, v.Count)
				}
				if v.NewBlock {
					newBlocks++
				}
				if v.Blocked && !v.NewBlock {
					blocked++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(counts)
	want := make([]int, r.Threshold)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(counts, want) || newBlocks != 1 || blocked != goroutines*calls-r.Threshold {
		t.Errorf("counts %v, %d new blocks, %d calls found the block; want 1..%d once each, 1 new block, %d found it",
			counts, newBlocks, blocked, r.Threshold, goroutines*calls-r.Threshold)
	}
}
