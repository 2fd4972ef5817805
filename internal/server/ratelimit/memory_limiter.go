package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryLimiter is the embedded Limiter: GCRA state (one timestamp per key)
// in sharded, bounded maps. It is safe for concurrent use; calls on keys in
// different shards never contend.
type MemoryLimiter struct {
	idx    shardIndex
	shards []limiterShard
}

type limiterShard struct {
	mu  sync.Mutex
	tat expiring[struct{}] // the key's theoretical arrival time, kept as its expiry
	_   [64]byte           // keep neighbouring shards' mutexes off one cache line
}

var _ BatchLimiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter(opts MemoryOptions) *MemoryLimiter {
	opts = opts.withDefaults()
	l := &MemoryLimiter{idx: newShardIndex(opts.Shards), shards: make([]limiterShard, opts.Shards)}
	perShard := opts.MaxKeys / opts.Shards
	for i := range l.shards {
		l.shards[i].tat = newExpiring[struct{}](perShard, opts.SweepInterval)
	}
	return l
}

// Allow implements Limiter with GCRA. The state is the key's theoretical
// arrival time (TAT), which is also when the key is back to a full burst and
// may be forgotten, so it doubles as the entry's expiry.
func (l *MemoryLimiter) Allow(_ context.Context, key string, limit Limit, now time.Time) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	emission := int64(limit.Emission())
	burstOffset := emission * int64(limit.Burst)
	n := now.UnixNano()

	sh := &l.shards[l.idx.of(key)]
	sh.mu.Lock()
	sh.tat.maintain(n)
	s, exists := sh.tat.get(key, n)
	tat := max(s.exp, n)
	newTAT := tat + emission
	allowAt := newTAT - burstOffset
	if n < allowAt {
		sh.mu.Unlock()
		return Result{
			Limit:      limit,
			RetryAfter: time.Duration(allowAt - n),
			ResetAfter: time.Duration(tat - n),
		}, nil
	}
	sh.tat.put(key, struct{}{}, newTAT, exists, n)
	sh.mu.Unlock()
	return Result{
		Limit:      limit,
		Allowed:    true,
		Remaining:  int((n - allowAt) / emission),
		ResetAfter: time.Duration(newTAT - n),
	}, nil
}

// AllowBatch implements BatchLimiter as a loop over Allow.
func (l *MemoryLimiter) AllowBatch(ctx context.Context, checks []Check, now time.Time, results []Result) error {
	if len(results) != len(checks) {
		return fmt.Errorf("ratelimit: AllowBatch got %d checks but room for %d results", len(checks), len(results))
	}
	for i, c := range checks {
		r, err := l.Allow(ctx, c.Key, c.Limit, now)
		if err != nil {
			return err
		}
		results[i] = r
	}
	return nil
}

// Len is the number of keys tracked, including expired ones not yet swept.
func (l *MemoryLimiter) Len() int {
	total := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		total += len(sh.tat.m)
		sh.mu.Unlock()
	}
	return total
}

// Cap is the most keys the limiter tracks at once.
func (l *MemoryLimiter) Cap() int {
	return len(l.shards) * l.shards[0].tat.max
}

// Sweep drops every key whose state has expired at now and returns how many
// it dropped. Shards also sweep themselves lazily; a janitor may call this.
func (l *MemoryLimiter) Sweep(now time.Time) int {
	n, removed := now.UnixNano(), 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		removed += sh.tat.sweep(n)
		sh.mu.Unlock()
	}
	return removed
}
