package redisrl_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
)

// node is one `serve` process: its own client (connection pool), limiter
// and blocker on the shared Redis and prefix.
type node struct {
	l *redisrl.Limiter
	b *redisrl.Blocker
}

func twoNodes(t *testing.T) [2]node {
	db := newRedisDB(t)
	prefix := db.prefix()
	var nodes [2]node
	for i := range nodes {
		c := db.client(t)
		nodes[i] = node{redisrl.NewLimiter(c, prefix), redisrl.NewBlocker(c, prefix)}
	}
	return nodes
}

// TestTwoNodesShareOneBudget alternates a client's requests between two
// nodes: together they allow one burst, not one each.
func TestTwoNodesShareOneBudget(t *testing.T) {
	nodes := twoNodes(t)
	ctx := t.Context()
	now := time.Date(2031, time.May, 5, 0, 0, 0, 0, time.UTC)
	limit := ratelimit.PerMinute(10) // T = 6s
	for i := range 12 {
		r, err := nodes[i%2].l.Allow(ctx, "a|192.0.2.1", limit, now)
		if err != nil {
			t.Fatal(err)
		}
		want := ratelimit.Result{Limit: limit, Allowed: true, Remaining: 9 - i, ResetAfter: time.Duration(i+1) * 6 * time.Second}
		if i >= 10 {
			want = ratelimit.Result{Limit: limit, RetryAfter: 6 * time.Second, ResetAfter: time.Minute}
		}
		if r != want {
			t.Errorf("request %d on node %d: %+v, want %+v", i+1, i%2, r, want)
		}
	}
	// The refill one node sees is the other's too.
	r, err := nodes[1].l.Allow(ctx, "a|192.0.2.1", limit, now.Add(6*time.Second))
	if err != nil || !r.Allowed || r.Remaining != 0 {
		t.Errorf("after one emission interval on node 1: %+v, %v; want allowed, 0 remaining", r, err)
	}
}

// TestTwoNodesConcurrentBurst races both nodes, batch and single calls, on
// one client: exactly Burst requests pass in all, each Remaining once.
func TestTwoNodesConcurrentBurst(t *testing.T) {
	nodes := twoNodes(t)
	const burst, perGoroutine, goroutines = 100, 30, 8
	limit := ratelimit.PerPeriod(burst, time.Hour)
	global := ratelimit.PerPeriod(10_000, time.Hour)
	now := time.Date(2031, time.May, 5, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var remaining []int
	var wg sync.WaitGroup
	for g := range goroutines {
		n := nodes[g%2]
		wg.Go(func() {
			results := make([]ratelimit.Result, 2)
			for i := range perGoroutine {
				var r ratelimit.Result
				var err error
				if i%2 == 0 {
					r, err = n.l.Allow(t.Context(), "a|198.51.100.1", limit, now)
				} else {
					err = n.l.AllowBatch(t.Context(), []ratelimit.Check{
						{Key: "g|198.51.100.1", Limit: global}, {Key: "a|198.51.100.1", Limit: limit},
					}, now, results)
					r = results[1]
				}
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					mu.Lock()
					remaining = append(remaining, r.Remaining)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(remaining)
	want := make([]int, burst)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(remaining, want) {
		t.Errorf("%d requests passed with Remaining %v, want %d with 0..%d once each", len(remaining), remaining, burst, burst-1)
	}
}

// TestTwoNodesShareOneBlockList counts violations on both nodes towards one
// block, which both enforce, list and lift.
func TestTwoNodesShareOneBlockList(t *testing.T) {
	nodes := twoNodes(t)
	ctx := t.Context()
	now := time.Date(2031, time.May, 5, 0, 0, 0, 0, time.UTC)
	rule := ratelimit.BlockRule{Threshold: 3, Duration: time.Hour, Window: time.Minute}
	const client = "2001:db8:7::/64"
	for i, n := range []int{0, 1, 0} {
		v, err := nodes[n].b.RecordViolation(ctx, client, rule, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if v.Count != i+1 || v.NewBlock != (i == 2) {
			t.Errorf("violation %d on node %d: %+v, want count %d", i+1, n, v, i+1)
		}
	}
	until := now.Add(2*time.Second + time.Hour)
	v, err := nodes[1].b.RecordViolation(ctx, client, rule, now.Add(3*time.Second))
	if err != nil || v.NewBlock || !v.Blocked || !v.Until.Equal(until) {
		t.Errorf("violation on node 1 after node 0 blocked: %+v, %v; want already blocked until %v", v, err, until)
	}
	for i, n := range nodes {
		blocked, u, err := n.b.IsBlocked(ctx, client, now.Add(time.Minute))
		if err != nil || !blocked || !u.Equal(until) {
			t.Errorf("node %d: IsBlocked = %t until %v, %v; want blocked until %v", i, blocked, u, err, until)
		}
		list, err := n.b.Blocked(ctx, now.Add(time.Minute))
		if err != nil || len(list) != 1 || list[0].Key != client || !list[0].Until.Equal(until) {
			t.Errorf("node %d: Blocked = %v, %v; want %s until %v", i, list, err, client, until)
		}
	}
	if err := nodes[1].b.Unblock(ctx, client); err != nil {
		t.Fatal(err)
	}
	if blocked, _, err := nodes[0].b.IsBlocked(ctx, client, now.Add(time.Minute)); err != nil || blocked {
		t.Errorf("node 0 after node 1 unblocked: blocked %t, %v", blocked, err)
	}
	// A manual block on one node is enforced by the other, and an allowed
	// request's reset on one node clears the count seen by the other.
	if _, err := nodes[0].b.Block(ctx, "192.0.2.8", time.Minute, now); err != nil {
		t.Fatal(err)
	}
	if blocked, _, err := nodes[1].b.IsBlocked(ctx, "192.0.2.8", now); err != nil || !blocked {
		t.Errorf("node 1 after node 0 blocked manually: blocked %t, %v", blocked, err)
	}
	for range 2 {
		if _, err := nodes[0].b.RecordViolation(ctx, "192.0.2.9", rule, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[1].b.ResetViolations(ctx, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	if v, err := nodes[0].b.RecordViolation(ctx, "192.0.2.9", rule, now); err != nil || v.Count != 1 {
		t.Errorf("violation on node 0 after node 1 reset the count: %+v, %v; want count 1", v, err)
	}
}
