package redisrl

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

//go:embed gcra.lua
var gcraSource string

// gcraScript is shared by all Limiters: go-redis computes its SHA-1 once.
var gcraScript = redis.NewScript(gcraSource)

// ttlSlackMillis is added to the TTL of TATs and violation counts. Their
// TTL runs on Redis' clock from the moment of the write, the decision on
// the caller's now: without slack a key would vanish early for a node whose
// clock lags the writer's, or for calls made at one instant of the caller's
// clock but milliseconds apart in real time (a short-lived key, such as a
// TAT 1ms ahead, would be gone). A second covers both and keeps a flood's
// keys only a second longer.
const ttlSlackMillis = int64(time.Second / time.Millisecond)

// Limiter is a ratelimit.BatchLimiter on Redis: GCRA in a Lua script, one
// round trip per call. It is safe for concurrent use, and Limiters on
// several nodes with the same Redis and prefix share every key's budget.
type Limiter struct {
	client redis.UniversalClient
	prefix string
}

var _ ratelimit.BatchLimiter = (*Limiter)(nil)

// NewLimiter returns a Limiter keeping its keys under prefix + "l:" in the
// Redis that client talks to (see NewClient for suitable client settings).
func NewLimiter(client redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{client: client, prefix: prefix + "l:"}
}

// Ping checks that Redis answers, for readiness checks.
func (l *Limiter) Ping(ctx context.Context) error {
	if err := l.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis rate limiter: ping: %w", err)
	}
	return nil
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, limit ratelimit.Limit, now time.Time) (ratelimit.Result, error) {
	checks := [1]ratelimit.Check{{Key: key, Limit: limit}}
	var results [1]ratelimit.Result
	err := l.AllowBatch(ctx, checks[:], now, results[:])
	return results[0], err
}

// AllowBatch implements ratelimit.BatchLimiter: every check in one script
// call, so the checks of one request are counted atomically.
func (l *Limiter) AllowBatch(ctx context.Context, checks []ratelimit.Check, now time.Time, results []ratelimit.Result) error {
	if len(results) != len(checks) {
		return fmt.Errorf("redis rate limiter: AllowBatch got %d checks but room for %d results", len(checks), len(results))
	}
	if len(checks) == 0 {
		return nil
	}
	keys := make([]string, len(checks))
	args := make([]any, 2+2*len(checks))
	args[0], args[1] = now.UnixMilli(), ttlSlackMillis
	for i, c := range checks {
		if err := c.Limit.Validate(); err != nil {
			return err
		}
		emission := ceilMillis(c.Limit.Emission())
		keys[i] = l.prefix + c.Key
		args[2+2*i] = emission
		args[3+2*i] = emission * int64(c.Limit.Burst)
	}
	reply, err := gcraScript.Run(ctx, l.client, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis rate limiter: %w", err)
	}
	if len(reply) != 4*len(checks) {
		return fmt.Errorf("redis rate limiter: script returned %d values for %d checks", len(reply), len(checks))
	}
	for i, c := range checks {
		r := reply[4*i : 4*i+4]
		results[i] = ratelimit.Result{
			Limit:      c.Limit,
			Allowed:    r[0] == 1,
			Remaining:  int(r[1]),
			RetryAfter: time.Duration(r[2]) * time.Millisecond,
			ResetAfter: time.Duration(r[3]) * time.Millisecond,
		}
	}
	return nil
}

// ceilMillis is d in whole milliseconds, rounded up.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
