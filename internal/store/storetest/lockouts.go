package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var lockoutCases = []testCase{
	{"ZeroState", testLockoutZero},
	{"ThresholdLocks", testLockoutThreshold},
	{"RepeatedLockoutsDouble", testLockoutDoubling},
	{"MaxLockCaps", testLockoutMaxLock},
	{"ClearFailuresKeepsLockoutCount", testLockoutClearFailures},
	{"UnlockClearsAll", testLockoutUnlock},
	{"InvalidPolicy", testLockoutInvalidPolicy},
	{"Concurrent", testLockoutConcurrent},
}

func checkLockout(t *testing.T, what string, got, want store.Lockout) {
	t.Helper()
	if got.UserID != want.UserID || got.FailedCount != want.FailedCount || got.LockoutCount != want.LockoutCount {
		t.Errorf("%s = key %q failed %d lockouts %d, want key %q failed %d lockouts %d", what,
			got.UserID, got.FailedCount, got.LockoutCount, want.UserID, want.FailedCount, want.LockoutCount)
	}
	checkTime(t, what+" LockedUntil", got.LockedUntil, want.LockedUntil)
	checkTime(t, what+" LastFailureAt", got.LastFailureAt, want.LastFailureAt)
}

// fail records one failure and checks that Lockout reads back what
// RecordFailure returned.
func fail(t *testing.T, s store.Store, key string, now time.Time, p store.LockoutPolicy) store.Lockout {
	t.Helper()
	l, err := s.RecordFailure(t.Context(), key, now, p)
	must(t, "RecordFailure", err)
	checkLockout(t, "Lockout after RecordFailure", mustLockout(t, s, key), l)
	return l
}

func mustLockout(t *testing.T, s store.Store, key string) store.Lockout {
	t.Helper()
	l, err := s.Lockout(t.Context(), key)
	must(t, "Lockout", err)
	return l
}

func testLockoutZero(t *testing.T, s store.Store) {
	// Keys need not be users: the server counts unknown addresses too.
	for _, key := range []string{store.NewID(), "login:203.0.113.9:nobody@example.com"} {
		checkLockout(t, "Lockout of "+key, mustLockout(t, s, key), store.Lockout{UserID: key})
	}
	p := store.LockoutPolicy{Threshold: 3, BaseLock: time.Minute}
	fail(t, s, "a", t0, p)
	checkLockout(t, "Lockout of another key", mustLockout(t, s, "b"), store.Lockout{UserID: "b"})
}

func testLockoutThreshold(t *testing.T, s store.Store) {
	p := store.LockoutPolicy{Threshold: 3, BaseLock: 15 * time.Minute}
	const key = "user-1"
	checkLockout(t, "first failure", fail(t, s, key, t0, p),
		store.Lockout{UserID: key, FailedCount: 1, LastFailureAt: t0})
	l := fail(t, s, key, at(time.Second), p)
	checkLockout(t, "second failure", l, store.Lockout{UserID: key, FailedCount: 2, LastFailureAt: at(time.Second)})
	if l.Locked(at(time.Second)) {
		t.Error("locked below the threshold")
	}

	lockedAt := at(2 * time.Second)
	locked := fail(t, s, key, lockedAt, p)
	want := store.Lockout{UserID: key, LockoutCount: 1, LockedUntil: stored(lockedAt).Add(15 * time.Minute), LastFailureAt: lockedAt}
	checkLockout(t, "failure at the threshold", locked, want)
	if !locked.Locked(lockedAt) || !locked.Locked(lockedAt.Add(15*time.Minute-time.Microsecond)) {
		t.Errorf("not locked for 15 minutes after the threshold: %+v", locked)
	}

	// Failures while locked change nothing: an attacker cannot extend it.
	for _, d := range []time.Duration{time.Second, 10 * time.Minute, 15*time.Minute - time.Microsecond} {
		checkLockout(t, fmt.Sprintf("failure %s into the lock", d), fail(t, s, key, lockedAt.Add(d), p), want)
	}
	// From the lock's end, failures count again.
	end := locked.LockedUntil
	checkLockout(t, "failure at the lock's end", fail(t, s, key, end, p),
		store.Lockout{UserID: key, FailedCount: 1, LockoutCount: 1, LockedUntil: want.LockedUntil, LastFailureAt: end})
}

// lockCycle fails key until it locks, starting at now, and returns the
// state; it checks the lock's length.
func lockCycle(t *testing.T, s store.Store, key string, now time.Time, p store.LockoutPolicy, wantLock time.Duration) store.Lockout {
	t.Helper()
	var l store.Lockout
	for i := range p.Threshold {
		l = fail(t, s, key, now.Add(time.Duration(i)*time.Second), p)
	}
	last := stored(now.Add(time.Duration(p.Threshold-1) * time.Second))
	if got := l.LockedUntil.Sub(last); got != wantLock {
		t.Errorf("lockout %d lasts %s, want %s", l.LockoutCount, got, wantLock)
	}
	return l
}

func testLockoutDoubling(t *testing.T, s store.Store) {
	p := store.LockoutPolicy{Threshold: 2, BaseLock: time.Minute}
	now := t0
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute} {
		l := lockCycle(t, s, "k", now, p, want)
		if l.LockoutCount != i+1 || l.FailedCount != 0 {
			t.Errorf("after lockout %d: %+v", i+1, l)
		}
		now = l.LockedUntil
	}
}

func testLockoutMaxLock(t *testing.T, s store.Store) {
	p := store.LockoutPolicy{Threshold: 1, BaseLock: time.Minute, MaxLock: 3 * time.Minute}
	now := t0
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		now = lockCycle(t, s, "k", now, p, want).LockedUntil
	}
}

func testLockoutClearFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.LockoutPolicy{Threshold: 3, BaseLock: time.Minute}
	fail(t, s, "k", t0, p)
	fail(t, s, "k", at(time.Second), p)
	must(t, "ClearFailures", s.ClearFailures(ctx, "k"))
	l := mustLockout(t, s, "k")
	if l.FailedCount != 0 || l.LockoutCount != 0 || l.Locked(at(time.Second)) {
		t.Errorf("after ClearFailures: %+v, want no failures", l)
	}
	// So two more failures do not lock.
	if l := fail(t, s, "k", at(2*time.Second), p); l.FailedCount != 1 {
		t.Errorf("failure after ClearFailures: count %d, want 1", l.FailedCount)
	}

	// A lockout, a failure after it, a successful login: the failure is
	// forgotten, the lockout is not, so the next lock doubles.
	must(t, "ClearFailures", s.ClearFailures(ctx, "k"))
	l = lockCycle(t, s, "k", at(time.Minute), p, time.Minute)
	fail(t, s, "k", l.LockedUntil, p)
	must(t, "ClearFailures", s.ClearFailures(ctx, "k"))
	cleared := mustLockout(t, s, "k")
	if cleared.FailedCount != 0 || cleared.LockoutCount != 1 {
		t.Errorf("after ClearFailures: failed %d lockouts %d, want 0 and 1 kept", cleared.FailedCount, cleared.LockoutCount)
	}
	lockCycle(t, s, "k", l.LockedUntil.Add(time.Hour), p, 2*time.Minute)

	must(t, "ClearFailures of an unknown key", s.ClearFailures(ctx, "unknown"))
	checkLockout(t, "Lockout of an unknown key after ClearFailures", mustLockout(t, s, "unknown"), store.Lockout{UserID: "unknown"})
}

func testLockoutUnlock(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.LockoutPolicy{Threshold: 2, BaseLock: time.Minute}
	l := lockCycle(t, s, "k", t0, p, time.Minute)
	l = lockCycle(t, s, "k", l.LockedUntil, p, 2*time.Minute)
	fail(t, s, "other", t0, p)

	must(t, "Unlock", s.Unlock(ctx, "k"))
	got := mustLockout(t, s, "k")
	checkLockout(t, "Lockout after Unlock", got, store.Lockout{UserID: "k"})
	if got.Locked(l.LockedUntil.Add(-time.Second)) {
		t.Error("still locked after Unlock")
	}
	// The lockout count is gone too: the next lock is the first again.
	lockCycle(t, s, "k", l.LockedUntil.Add(-time.Second), p, time.Minute)
	checkLockout(t, "another key after Unlock", mustLockout(t, s, "other"),
		store.Lockout{UserID: "other", FailedCount: 1, LastFailureAt: t0})

	must(t, "Unlock of an unknown key", s.Unlock(ctx, "unknown"))
}

func testLockoutInvalidPolicy(t *testing.T, s store.Store) {
	for _, p := range []store.LockoutPolicy{
		{},
		{Threshold: 0, BaseLock: time.Minute},
		{Threshold: 3, BaseLock: 0},
		{Threshold: 3, BaseLock: -time.Minute},
		{Threshold: 3, BaseLock: time.Minute, MaxLock: -time.Minute},
		{Threshold: 3, BaseLock: time.Minute, MaxLock: time.Second},
	} {
		_, err := s.RecordFailure(t.Context(), "k", t0, p)
		wantErr(t, "RecordFailure with policy "+describe(p), err, store.ErrInvalid)
	}
	checkLockout(t, "Lockout after refused failures", mustLockout(t, s, "k"), store.Lockout{UserID: "k"})
}

func testLockoutConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()

	// Below the threshold: every failure is counted once.
	wide := store.LockoutPolicy{Threshold: 1000, BaseLock: time.Minute}
	counts := make([]int, raceN)
	errs := make([]error, raceN)
	race(raceN, func(i int) {
		l, err := s.RecordFailure(ctx, "wide", at(time.Duration(i)*time.Millisecond), wide)
		counts[i], errs[i] = l.FailedCount, err
	})
	for _, err := range errs {
		must(t, "concurrent RecordFailure", err)
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("concurrent failures saw counts %v, want each of 1..%d once", counts, raceN)
		}
	}
	if l := mustLockout(t, s, "wide"); l.FailedCount != raceN {
		t.Errorf("FailedCount after %d concurrent failures = %d", raceN, l.FailedCount)
	}

	// Across the threshold: the first Threshold are counted, exactly one
	// of them locks, the rest find the lock. Each failure has its own
	// time, so the returned states tell which were counted.
	const threshold = 5
	p := store.LockoutPolicy{Threshold: threshold, BaseLock: time.Hour}
	when := func(i int) time.Time { return at(time.Duration(i) * time.Millisecond) }
	states := make([]store.Lockout, raceN)
	race(raceN, func(i int) { states[i], errs[i] = s.RecordFailure(ctx, "narrow", when(i), p) })
	var lockers []int
	var partial []int
	refused := 0
	for i, l := range states {
		must(t, "concurrent RecordFailure", errs[i])
		counted := l.LastFailureAt.Equal(stored(when(i)))
		switch {
		case counted && l.LockoutCount == 1 && l.FailedCount == 0 && l.LockedUntil.Equal(stored(when(i)).Add(time.Hour)):
			lockers = append(lockers, i)
		case counted && l.LockoutCount == 0:
			partial = append(partial, l.FailedCount)
		case !counted && l.LockoutCount == 1 && l.Locked(when(i)):
			refused++
		default:
			t.Errorf("failure %d at %s returned %+v: neither counted nor refused by the lock", i, when(i), l)
		}
	}
	slices.Sort(partial)
	if len(lockers) != 1 {
		t.Errorf("%d concurrent failures locked (%v), want exactly 1", len(lockers), lockers)
	}
	if want := []int{1, 2, 3, 4}; !slices.Equal(partial, want) {
		t.Errorf("failures counted below the threshold saw %v, want %v", partial, want)
	}
	if refused != raceN-threshold {
		t.Errorf("%d failures were refused by the lock, want %d", refused, raceN-threshold)
	}
	if len(lockers) == 1 {
		i := lockers[0]
		checkLockout(t, "Lockout after the race", mustLockout(t, s, "narrow"), store.Lockout{UserID: "narrow",
			LockoutCount: 1, LockedUntil: stored(when(i)).Add(time.Hour), LastFailureAt: when(i)})
	}
}
