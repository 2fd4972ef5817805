package revoke_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/server/revoke/revoketest"
)

func TestMemoryConformance(t *testing.T) {
	revoketest.Run(t, func(*testing.T) revoke.List { return revoke.NewMemory() })
}

func TestMemoryDropsExpired(t *testing.T) {
	m := revoke.NewMemory()
	past := time.Now().Add(-time.Hour)
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		_ = m.Revoke(ctx, s, past)
	}
	for _, s := range []string{"a", "b", "c"} {
		if ok, _ := m.Revoked(ctx, s, time.Now()); ok {
			t.Errorf("%s revoked after its expiry", s)
		}
	}
	if n := m.Len(); n != 0 {
		t.Errorf("%d expired entries kept after lookups", n)
	}
}

func TestMemorySweepsOnTheCallersClock(t *testing.T) {
	m := revoke.NewMemory()
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		_ = m.Revoke(ctx, "s"+strconv.Itoa(i), t0.Add(time.Minute))
	}
	if n := m.Len(); n != 1000 {
		t.Fatalf("Len %d, want 1000", n)
	}
	// Lookups an hour later sweep every shard they touch.
	for i := range 1000 {
		_, _ = m.Revoked(ctx, "x"+strconv.Itoa(i), t0.Add(time.Hour))
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len %d after the entries expired and every shard was swept, want 0", n)
	}
}
