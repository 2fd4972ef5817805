package redisrevoke_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/server/revoke/redisrevoke"
	"github.com/repairx/repairxctl/internal/server/revoke/revoketest"
	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) {
	// go-redis logs each failed dial through its own global logger; the
	// outage test fails dials on purpose and checks the errors itself.
	redis.SetLogger(quietLogger{})
	os.Exit(testenv.Main(m))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// newClient returns a client made by redisrl.NewClient on an empty database
// of the package's Redis; each call is a separate pool, like a separate node.
func newClient(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisrl.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newDB(t *testing.T) string {
	t.Helper()
	srv := testenv.Redis(t)
	return srv.URL(srv.NewDB(t))
}

func TestConformance(t *testing.T) {
	c := newClient(t, newDB(t))
	var n atomic.Int64
	revoketest.Run(t, func(*testing.T) revoke.List {
		return redisrevoke.New(c, fmt.Sprintf("t%d:", n.Add(1)))
	})
}

// TestCallerClockDecides revokes with times far from Redis' clock: expiry is
// decided by the now passed in, and the key outlives both ends by the skew
// allowance by Redis' clock.
func TestCallerClockDecides(t *testing.T) {
	c := newClient(t, newDB(t))
	l := redisrevoke.New(c, "x:")
	ctx := t.Context()
	past := time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)
	future := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	for _, tc := range []struct {
		session string
		until   time.Time
		ttl     time.Duration // the key's TTL by Redis' clock
	}{
		{"old", past, redisrevoke.SkewAllowance},
		{"new", future, time.Until(future) + redisrevoke.SkewAllowance},
	} {
		if err := l.Revoke(ctx, tc.session, tc.until); err != nil {
			t.Fatal(err)
		}
		for _, at := range []struct {
			now  time.Time
			want bool
		}{
			{tc.until.Add(-time.Hour), true},
			{tc.until.Add(-time.Millisecond), true},
			{tc.until, false},
			{tc.until.Add(time.Hour), false},
		} {
			got, err := l.Revoked(ctx, tc.session, at.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != at.want {
				t.Errorf("%s revoked until %v: Revoked at %v = %t, want %t", tc.session, tc.until, at.now, got, at.want)
			}
		}
		ttl, err := c.PTTL(ctx, "x:r:"+tc.session).Result()
		if err != nil {
			t.Fatal(err)
		}
		// tc.ttl was computed before Revoke ran and Redis keeps whole
		// milliseconds (rounding up), so allow a little either way.
		if ttl > tc.ttl+time.Second || ttl < tc.ttl-5*time.Second {
			t.Errorf("%s: key TTL %v, want about %v", tc.session, ttl, tc.ttl)
		}
	}
	// A sub-millisecond end is rounded up: the revocation never ends early.
	until := future.Add(time.Microsecond)
	if err := l.Revoke(ctx, "sub", until); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Revoked(ctx, "sub", future); err != nil || !got {
		t.Errorf("Revoked 1µs before the end = %t, %v; want true", got, err)
	}
}

// TestTwoNodes revokes on one node's list and checks on another's, as a
// logout on one `serve` process must end the session on all.
func TestTwoNodes(t *testing.T) {
	url := newDB(t)
	a := redisrevoke.New(newClient(t, url), "shared:")
	b := redisrevoke.New(newClient(t, url), "shared:")
	ctx := t.Context()
	t0 := time.Date(2031, time.January, 1, 0, 0, 0, 0, time.UTC)
	if err := a.Revoke(ctx, "sid-1", t0.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Revoked(ctx, "sid-1", t0); err != nil || !got {
		t.Errorf("node b: Revoked = %t, %v; want true", got, err)
	}
	// The earlier revocation from node b does not shorten node a's.
	if err := b.Revoke(ctx, "sid-1", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Revoked(ctx, "sid-1", t0.Add(10*time.Minute)); err != nil || !got {
		t.Errorf("node a after node b's earlier revocation: Revoked = %t, %v; want true", got, err)
	}
	if got, err := b.Revoked(ctx, "sid-2", t0); err != nil || got {
		t.Errorf("node b: unrevoked session: Revoked = %t, %v; want false", got, err)
	}
}

// TestUnreachable checks that a Redis nobody answers on gives errors,
// wrapped and promptly, never a hang or a false "not revoked".
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	l := redisrevoke.New(newClient(t, "redis://"+addr), "x:")
	start := time.Now()
	err = l.Revoke(t.Context(), "s", time.Now().Add(time.Hour))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Revoke: %v, want connection refused", err)
	}
	revoked, err := l.Revoked(t.Context(), "s", time.Now())
	if !errors.Is(err, syscall.ECONNREFUSED) || revoked {
		t.Errorf("Revoked = %t, %v; want an error", revoked, err)
	}
	if err := l.Ping(t.Context()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Ping: %v, want connection refused", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("three calls took %v", took)
	}
}
