package redisrl

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

var (
	//go:embed violation.lua
	violationSource string
	//go:embed block.lua
	blockSource string
	//go:embed unblock.lua
	unblockSource string

	violationScript = redis.NewScript(violationSource)
	blockScript     = redis.NewScript(blockSource)
	unblockScript   = redis.NewScript(unblockSource)
)

// skewMillis is how long after its end a block stays in the sorted set
// before a script drops it, so a node whose clock lags by up to this much
// still finds it (IsBlocked compares the end with its own now).
const skewMillis = int64(time.Minute / time.Millisecond)

// Blocker is a ratelimit.Blocker on Redis: violation counts in one hash per
// client, the block list in one sorted set, every write an atomic script.
// It is safe for concurrent use, and Blockers on several nodes with the same
// Redis and prefix share the counts and the block list.
type Blocker struct {
	client      redis.UniversalClient
	countPrefix string
	blocks      string
}

var _ ratelimit.Blocker = (*Blocker)(nil)

// NewBlocker returns a Blocker keeping its counts under prefix + "v:" and
// its block list in prefix + "blocks" in the Redis that client talks to.
func NewBlocker(client redis.UniversalClient, prefix string) *Blocker {
	return &Blocker{client: client, countPrefix: prefix + "v:", blocks: prefix + "blocks"}
}

// Ping checks that Redis answers, for readiness checks.
func (b *Blocker) Ping(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis blocker: ping: %w", err)
	}
	return nil
}

// RecordViolation implements ratelimit.Blocker.
func (b *Blocker) RecordViolation(ctx context.Context, key string, rule ratelimit.BlockRule, now time.Time) (ratelimit.Violation, error) {
	if err := rule.Validate(); err != nil {
		return ratelimit.Violation{}, err
	}
	reply, err := violationScript.Run(ctx, b.client, []string{b.countPrefix + key, b.blocks},
		now.UnixMilli(), rule.Threshold, ceilMillis(rule.Duration), ceilMillis(rule.Window), key, skewMillis, ttlSlackMillis).Int64Slice()
	if err != nil {
		return ratelimit.Violation{}, fmt.Errorf("redis blocker: record violation: %w", err)
	}
	if len(reply) != 4 {
		return ratelimit.Violation{}, fmt.Errorf("redis blocker: record violation: script returned %d values, want 4", len(reply))
	}
	v := ratelimit.Violation{Count: int(reply[0]), Blocked: reply[1] == 1, NewBlock: reply[2] == 1}
	if v.Blocked {
		v.Until = fromMillis(reply[3], now)
	}
	return v, nil
}

// ResetViolations implements ratelimit.Blocker with one DEL.
func (b *Blocker) ResetViolations(ctx context.Context, key string) error {
	if err := b.client.Del(ctx, b.countPrefix+key).Err(); err != nil {
		return fmt.Errorf("redis blocker: reset violations: %w", err)
	}
	return nil
}

// IsBlocked implements ratelimit.Blocker with one ZSCORE.
func (b *Blocker) IsBlocked(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	score, err := b.client.ZScore(ctx, b.blocks, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("redis blocker: is blocked: %w", err)
	}
	until := int64(score)
	if until <= now.UnixMilli() {
		return false, time.Time{}, nil
	}
	return true, fromMillis(until, now), nil
}

// Block implements ratelimit.Blocker.
func (b *Blocker) Block(ctx context.Context, key string, d time.Duration, now time.Time) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, fmt.Errorf("%w: block duration %v must be positive", ratelimit.ErrInvalidBlockRule, d)
	}
	// The longest block a BlockRule allows bounds a manual one too.
	if err := (ratelimit.BlockRule{Threshold: 1, Duration: max(d, time.Millisecond), Window: time.Millisecond}).Validate(); err != nil {
		return time.Time{}, fmt.Errorf("block for %v: %w", d, err)
	}
	until, err := blockScript.Run(ctx, b.client, []string{b.countPrefix + key, b.blocks},
		now.UnixMilli(), ceilMillis(d), key, skewMillis).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("redis blocker: block: %w", err)
	}
	return fromMillis(until, now), nil
}

// Unblock implements ratelimit.Blocker.
func (b *Blocker) Unblock(ctx context.Context, key string) error {
	if err := unblockScript.Run(ctx, b.client, []string{b.countPrefix + key, b.blocks}, key).Err(); err != nil {
		return fmt.Errorf("redis blocker: unblock: %w", err)
	}
	return nil
}

// Blocked implements ratelimit.Blocker with one ZRANGEBYSCORE: Redis orders
// equal scores by member, bytewise, as the interface asks.
func (b *Blocker) Blocked(ctx context.Context, now time.Time) ([]ratelimit.BlockedKey, error) {
	zs, err := b.client.ZRangeByScoreWithScores(ctx, b.blocks, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.UnixMilli(), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis blocker: list blocks: %w", err)
	}
	out := make([]ratelimit.BlockedKey, 0, len(zs))
	for _, z := range zs {
		key, ok := z.Member.(string)
		if !ok {
			return nil, fmt.Errorf("redis blocker: list blocks: member of type %T", z.Member)
		}
		out = append(out, ratelimit.BlockedKey{Key: key, Until: fromMillis(int64(z.Score), now)})
	}
	return out, nil
}

// fromMillis is Unix ms as a Time in now's location, as the memory backend
// returns them.
func fromMillis(ms int64, now time.Time) time.Time {
	return time.UnixMilli(ms).In(now.Location())
}
