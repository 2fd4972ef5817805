package redisrl_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
)

// crossLimits have emission intervals in whole milliseconds, where the
// backends must agree exactly.
var crossLimits = []ratelimit.Limit{
	{Rate: 1, Period: time.Second, Burst: 1},
	{Rate: 10, Period: time.Second, Burst: 3},
	{Rate: 100, Period: time.Minute, Burst: 150},
	{Rate: 5, Period: 15 * time.Minute, Burst: 5},
	{Rate: 8, Period: time.Second, Burst: 20},
	{Rate: 1000, Period: time.Second, Burst: 1},
}

// TestLimiterMatchesMemory replays one random schedule of Allow and
// AllowBatch calls (repeated keys in a batch, limits changing per call,
// clocks stepping back a little as another node's might) on the memory
// limiter and on Redis: every Result must be identical.
func TestLimiterMatchesMemory(t *testing.T) {
	db := newRedisDB(t)
	redisL := redisrl.NewLimiter(db.client(t), db.prefix())
	memL := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(2026, 11))
	keys := []string{"g|192.0.2.1", "a|192.0.2.1", "l|192.0.2.1", "u|7", "g|2001:db8::/64", "g|198.51.100.4"}
	now := time.Date(2031, time.May, 5, 5, 5, 5, 0, time.UTC)
	var allowed, denied int
	for i := range 4000 {
		switch p := rng.IntN(100); {
		case p < 35:
		case p < 90:
			now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		case p < 97:
			now = now.Add(-time.Duration(rng.IntN(50)) * time.Millisecond)
		default:
			now = now.Add(time.Duration(rng.IntN(900_000)) * time.Millisecond)
		}
		checks := make([]ratelimit.Check, 1+rng.IntN(4))
		for j := range checks {
			checks[j] = ratelimit.Check{Key: keys[rng.IntN(len(keys))], Limit: crossLimits[rng.IntN(len(crossLimits))]}
		}
		got := make([]ratelimit.Result, len(checks))
		want := make([]ratelimit.Result, len(checks))
		if len(checks) == 1 && rng.IntN(2) == 0 {
			var err error
			if got[0], err = redisL.Allow(ctx, checks[0].Key, checks[0].Limit, now); err != nil {
				t.Fatal(err)
			}
			if want[0], err = memL.Allow(ctx, checks[0].Key, checks[0].Limit, now); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := redisL.AllowBatch(ctx, checks, now, got); err != nil {
				t.Fatal(err)
			}
			if err := memL.AllowBatch(ctx, checks, now, want); err != nil {
				t.Fatal(err)
			}
		}
		for j := range checks {
			if got[j] != want[j] {
				t.Fatalf("call %d check %d (%s, %v): Redis %+v, memory %+v", i, j, checks[j].Key, checks[j].Limit, got[j], want[j])
			}
			if want[j].Allowed {
				allowed++
			} else {
				denied++
			}
		}
	}
	if allowed < 500 || denied < 500 {
		t.Fatalf("test bug: schedule too tame: %d allowed, %d denied", allowed, denied)
	}
}

// TestBlockerMatchesMemory replays one random schedule of every Blocker
// call on the memory blocker and on Redis: every answer must be identical.
func TestBlockerMatchesMemory(t *testing.T) {
	db := newRedisDB(t)
	redisB := redisrl.NewBlocker(db.client(t), db.prefix())
	memB := ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(11, 23))
	clients := []string{"192.0.2.1", "192.0.2.10", "192.0.2.2", "2001:db8::/64", "198.51.100.7"}
	rules := []ratelimit.BlockRule{
		{Threshold: 3, Duration: time.Minute, Window: 10 * time.Second},
		{Threshold: 2, Duration: 30 * time.Second, Window: time.Minute},
		{Threshold: 1, Duration: 5 * time.Second, Window: time.Second},
	}
	now := time.Date(2031, time.May, 5, 5, 5, 5, 0, time.UTC)
	seen := map[string]int{}
	for i := range 3000 {
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		key := clients[rng.IntN(len(clients))]
		var gotS, wantS string
		switch op := rng.IntN(100); {
		case op < 50:
			r := rules[rng.IntN(len(rules))]
			g, err1 := redisB.RecordViolation(ctx, key, r, now)
			w, err2 := memB.RecordViolation(ctx, key, r, now)
			gotS, wantS = violation(g, err1), violation(w, err2)
			switch {
			case w.NewBlock:
				seen["new block"]++
			case w.Blocked:
				seen["already blocked"]++
			case w.Count > 1:
				seen["counted"]++
			}
		case op < 65:
			gotS = fmt.Sprint(redisB.ResetViolations(ctx, key))
			wantS = fmt.Sprint(memB.ResetViolations(ctx, key))
		case op < 85:
			gb, gu, err1 := redisB.IsBlocked(ctx, key, now)
			wb, wu, err2 := memB.IsBlocked(ctx, key, now)
			gotS, wantS = fmt.Sprint(gb, gu.UnixNano(), err1), fmt.Sprint(wb, wu.UnixNano(), err2)
		case op < 90:
			d := time.Duration(1+rng.IntN(120_000)) * time.Millisecond
			gu, err1 := redisB.Block(ctx, key, d, now)
			wu, err2 := memB.Block(ctx, key, d, now)
			gotS, wantS = fmt.Sprint(gu.UnixNano(), err1), fmt.Sprint(wu.UnixNano(), err2)
		case op < 95:
			gotS = fmt.Sprint(redisB.Unblock(ctx, key))
			wantS = fmt.Sprint(memB.Unblock(ctx, key))
		default:
			g, err1 := redisB.Blocked(ctx, now)
			w, err2 := memB.Blocked(ctx, now)
			gotS, wantS = blockedList(g, err1), blockedList(w, err2)
			if len(w) > 1 {
				seen["list of several"]++
			}
		}
		if gotS != wantS {
			t.Fatalf("call %d on %s at %v: Redis %s, memory %s", i, key, now.Format(time.RFC3339Nano), gotS, wantS)
		}
	}
	for _, what := range []string{"new block", "already blocked", "counted", "list of several"} {
		if seen[what] < 10 {
			t.Errorf("test bug: schedule shows %q only %d times", what, seen[what])
		}
	}
}

func violation(v ratelimit.Violation, err error) string {
	return fmt.Sprintf("{count %d blocked %t new %t until %d} %v", v.Count, v.Blocked, v.NewBlock, v.Until.UnixNano(), err)
}

func blockedList(l []ratelimit.BlockedKey, err error) string {
	s := make([]string, 0, len(l))
	for _, b := range l {
		s = append(s, fmt.Sprintf("%s@%d", b.Key, b.Until.UnixNano()))
	}
	return fmt.Sprint(s, err)
}
