package redisrl_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
)

// outageBound is how long any call may take when Redis is gone or stalled:
// generous, since the point is that calls return at all (NewClient's
// timeouts make them take well under a second).
const outageBound = 5 * time.Second

// backendCall is one call of the Limiter or Blocker API.
type backendCall struct {
	name string
	call func(context.Context) error
}

// backendCalls lists every call a request or an operator makes.
func backendCalls(l *redisrl.Limiter, b *redisrl.Blocker) []backendCall {
	now := time.Now()
	limit := ratelimit.PerMinute(60)
	rule := ratelimit.BlockRule{Threshold: 5, Duration: time.Hour, Window: time.Minute}
	return []backendCall{
		{"Limiter.Ping", l.Ping},
		{"Allow", func(ctx context.Context) error {
			_, err := l.Allow(ctx, "g|192.0.2.1", limit, now)
			return err
		}},
		{"AllowBatch", func(ctx context.Context) error {
			checks := []ratelimit.Check{{Key: "g|192.0.2.1", Limit: limit}, {Key: "a|192.0.2.1", Limit: limit}}
			return l.AllowBatch(ctx, checks, now, make([]ratelimit.Result, 2))
		}},
		{"Blocker.Ping", b.Ping},
		{"RecordViolation", func(ctx context.Context) error {
			_, err := b.RecordViolation(ctx, "192.0.2.1", rule, now)
			return err
		}},
		{"ResetViolations", func(ctx context.Context) error { return b.ResetViolations(ctx, "192.0.2.1") }},
		{"IsBlocked", func(ctx context.Context) error {
			_, _, err := b.IsBlocked(ctx, "192.0.2.1", now)
			return err
		}},
		{"Block", func(ctx context.Context) error {
			_, err := b.Block(ctx, "192.0.2.1", time.Minute, now)
			return err
		}},
		{"Unblock", func(ctx context.Context) error { return b.Unblock(ctx, "192.0.2.1") }},
		{"Blocked", func(ctx context.Context) error {
			_, err := b.Blocked(ctx, now)
			return err
		}},
	}
}

// runAll runs every call at once and returns each one's error and duration.
func runAll(ctx context.Context, calls []backendCall) ([]error, []time.Duration) {
	errs := make([]error, len(calls))
	took := make([]time.Duration, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			start := time.Now()
			errs[i] = c.call(ctx)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	return errs, took
}

// TestUnreachableRedis points a client at a port nothing listens on: every
// call returns the connection error, wrapped, promptly.
func TestUnreachableRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := redisrl.NewClient("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls := backendCalls(redisrl.NewLimiter(c, "x:"), redisrl.NewBlocker(c, "x:"))
	for round := range 2 { // the second round meets a pool that has seen dial errors
		errs, took := runAll(t.Context(), calls)
		t.Logf("round %d: calls took %v (slowest of %d)", round, slices.Max(took), len(took))
		for i, call := range calls {
			if !errors.Is(errs[i], syscall.ECONNREFUSED) {
				t.Errorf("round %d: %s: error %v, want connection refused", round, call.name, errs[i])
			}
			if took[i] > outageBound {
				t.Errorf("round %d: %s took %v", round, call.name, took[i])
			}
		}
	}
}

// TestStalledRedis pauses the server (CLIENT PAUSE: connections are
// accepted, commands never answered): every call must give up with a
// timeout, and the same client must work again once the pause ends.
func TestStalledRedis(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	prefix := db.prefix()
	l, b := redisrl.NewLimiter(c, prefix), redisrl.NewBlocker(c, prefix)
	calls := backendCalls(l, b)
	// Warm the pool, so stalled pooled connections are tested as well as
	// new ones.
	errs, _ := runAll(t.Context(), calls)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s before the pause: %v", calls[i].name, err)
		}
	}

	// The pause outlasts the calls' timeouts several times over; it cannot
	// be lifted early (CLIENT UNPAUSE would wait for it too).
	const pause = 3 * time.Second
	admin := redis.NewClient(&redis.Options{Addr: c.(*redis.Client).Options().Addr})
	defer admin.Close()
	pausedAt := time.Now()
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	errs, took := runAll(t.Context(), calls)
	for i, call := range calls {
		var ne net.Error
		if !errors.As(errs[i], &ne) || !ne.Timeout() {
			t.Errorf("%s while Redis is paused: error %v, want a timeout", call.name, errs[i])
		}
		if took[i] > outageBound {
			t.Errorf("%s while Redis is paused took %v", call.name, took[i])
		}
	}
	t.Logf("calls while paused took %v (slowest of %d)", slices.Max(took), len(took))
	if since := time.Since(pausedAt); since >= pause {
		t.Fatalf("the calls took %v, longer than the pause: the test proves nothing", since)
	}

	// A cancelled request gives up at once, paused Redis or not.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Allow(ctx, "g|192.0.2.1", ratelimit.PerMinute(60), time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("Allow with a cancelled context: %v, want context.Canceled", err)
	}

	// Recovery: poll until the pause is over and the same client answers.
	deadline := time.Now().Add(pause + 10*time.Second)
	for {
		err := l.Ping(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis still failing %v after the pause: %v", time.Since(pausedAt), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := b.IsBlocked(t.Context(), "192.0.2.1", time.Now()); err != nil {
		t.Errorf("IsBlocked after the pause: %v", err)
	}
	if r, err := l.Allow(t.Context(), "g|192.0.2.99", ratelimit.PerMinute(60), time.Now()); err != nil || !r.Allowed || r.Remaining != 59 {
		t.Errorf("Allow after the pause = %+v, %v; want allowed with 59 remaining", r, err)
	}
}
