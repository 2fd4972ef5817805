// Package revoketest is the conformance suite of revoke.List backends.
package revoketest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/revoke"
)

// Run runs the behaviour every List must have against lists made by
// newList (a fresh, empty list for each call).
func Run(t *testing.T, newList func(t *testing.T) revoke.List) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

	t.Run("RevokedUntilExpiry", func(t *testing.T) {
		l := newList(t)
		mustRevoke(t, l, "s1", t0.Add(15*time.Minute))
		for _, c := range []struct {
			session string
			at      time.Time
			want    bool
		}{
			{"s1", t0, true},
			{"s1", t0.Add(15*time.Minute - time.Second), true},
			{"s1", t0.Add(15 * time.Minute), false},
			{"s2", t0, false},
		} {
			got, err := l.Revoked(ctx, c.session, c.at)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Revoked(%s, %s) = %v, want %v", c.session, c.at.Sub(t0), got, c.want)
			}
		}
	})
	t.Run("LaterRevocationWins", func(t *testing.T) {
		l := newList(t)
		mustRevoke(t, l, "s", t0.Add(10*time.Minute))
		mustRevoke(t, l, "s", t0.Add(5*time.Minute))
		if got, _ := l.Revoked(ctx, "s", t0.Add(7*time.Minute)); !got {
			t.Error("an earlier second revocation shortened the first")
		}
		mustRevoke(t, l, "s", t0.Add(20*time.Minute))
		if got, _ := l.Revoked(ctx, "s", t0.Add(15*time.Minute)); !got {
			t.Error("a later second revocation did not extend the first")
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		l := newList(t)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 50 {
					s := fmt.Sprintf("s-%d-%d", i, j)
					if err := l.Revoke(ctx, s, t0.Add(time.Hour)); err != nil {
						t.Error(err)
						return
					}
					if ok, err := l.Revoked(ctx, s, t0); err != nil || !ok {
						t.Errorf("%s: revoked %v, %v", s, ok, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

func mustRevoke(t *testing.T, l revoke.List, s string, until time.Time) {
	t.Helper()
	if err := l.Revoke(context.Background(), s, until); err != nil {
		t.Fatal(err)
	}
}
