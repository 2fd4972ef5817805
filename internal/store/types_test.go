package store

import (
	"testing"
	"time"
)

func TestLockoutPolicyForgets(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	p := LockoutPolicy{Threshold: 3, BaseLock: 15 * time.Minute, MaxLock: 24 * time.Hour, Window: time.Hour, ForgetLockouts: 24 * time.Hour}
	var l Lockout
	// Two typos, then a third two hours later: the count starts again.
	l = p.Next(l, t0)
	l = p.Next(l, t0.Add(time.Minute))
	l = p.Next(l, t0.Add(2*time.Hour))
	if l.FailedCount != 1 || l.Locked(t0.Add(2*time.Hour)) {
		t.Fatalf("after a gap longer than the window: %+v", l)
	}
	// Three within the window lock for the base time.
	l = p.Next(l, t0.Add(2*time.Hour+time.Minute))
	l = p.Next(l, t0.Add(2*time.Hour+2*time.Minute))
	if !l.Locked(t0.Add(2*time.Hour+3*time.Minute)) || l.LockedUntil != t0.Add(2*time.Hour+17*time.Minute) {
		t.Fatalf("third failure in the window: %+v", l)
	}
	// A second lockout soon after doubles...
	at := l.LockedUntil.Add(time.Minute)
	for i := range 3 {
		l = p.Next(l, at.Add(time.Duration(i)*time.Second))
	}
	if got := l.LockedUntil.Sub(at.Add(2 * time.Second)); got != 30*time.Minute {
		t.Fatalf("second lock lasts %s, want 30m", got)
	}
	// ...but a day after the last lock ended the doubling starts again.
	at = l.LockedUntil.Add(25 * time.Hour)
	for i := range 3 {
		l = p.Next(l, at.Add(time.Duration(i)*time.Second))
	}
	if got := l.LockedUntil.Sub(at.Add(2 * time.Second)); got != 15*time.Minute {
		t.Fatalf("a lock a day later lasts %s, want the base 15m", got)
	}
	// Zero window and forget time keep everything (the conformance suite's policy).
	keep := LockoutPolicy{Threshold: 2, BaseLock: time.Minute}
	l = keep.Next(Lockout{}, t0)
	l = keep.Next(l, t0.Add(1000*time.Hour))
	if !l.Locked(t0.Add(1000 * time.Hour)) {
		t.Fatalf("without a window the failures add up: %+v", l)
	}
	if err := (LockoutPolicy{Threshold: 1, BaseLock: time.Minute, Window: -1}).Validate(); err == nil {
		t.Error("a negative window validated")
	}
}
