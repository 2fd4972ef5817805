package ratelimit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryBlocker is the embedded Blocker: violation counts and blocks in
// sharded, bounded maps. A key's count and block live in the same shard
// under one lock, so RecordViolation is atomic.
type MemoryBlocker struct {
	idx    shardIndex
	shards []blockerShard
}

type blockerShard struct {
	mu         sync.Mutex
	violations expiring[int32]    // consecutive count; expires Window after the latest
	blocks     expiring[struct{}] // expires when the block ends
	_          [64]byte
}

var _ Blocker = (*MemoryBlocker)(nil)

// NewMemoryBlocker returns an empty MemoryBlocker.
func NewMemoryBlocker(opts MemoryOptions) *MemoryBlocker {
	opts = opts.withDefaults()
	b := &MemoryBlocker{idx: newShardIndex(opts.Shards), shards: make([]blockerShard, opts.Shards)}
	perShard := opts.MaxKeys / opts.Shards
	for i := range b.shards {
		b.shards[i].violations = newExpiring[int32](perShard, opts.SweepInterval)
		b.shards[i].blocks = newExpiring[struct{}](perShard, opts.SweepInterval)
	}
	return b
}

func (b *MemoryBlocker) lock(key string, now int64) *blockerShard {
	sh := &b.shards[b.idx.of(key)]
	sh.mu.Lock()
	sh.violations.maintain(now)
	sh.blocks.maintain(now)
	return sh
}

// RecordViolation implements Blocker.
func (b *MemoryBlocker) RecordViolation(_ context.Context, key string, rule BlockRule, now time.Time) (Violation, error) {
	if err := rule.Validate(); err != nil {
		return Violation{}, err
	}
	n := now.UnixNano()
	sh := b.lock(key, n)
	defer sh.mu.Unlock()
	if blk, ok := sh.blocks.get(key, n); ok {
		return Violation{Blocked: true, Until: time.Unix(0, blk.exp).In(now.Location())}, nil
	}
	v, exists := sh.violations.get(key, n)
	count := int(v.val) + 1
	if count >= rule.Threshold {
		sh.violations.del(key)
		until := n + int64(rule.Duration)
		sh.blocks.put(key, struct{}{}, until, false, n)
		return Violation{Count: count, Blocked: true, NewBlock: true, Until: time.Unix(0, until).In(now.Location())}, nil
	}
	sh.violations.put(key, int32(count), n+int64(rule.Window), exists, n)
	return Violation{Count: count}, nil
}

// ResetViolations implements Blocker.
func (b *MemoryBlocker) ResetViolations(_ context.Context, key string) error {
	sh := &b.shards[b.idx.of(key)]
	sh.mu.Lock()
	if len(sh.violations.m) > 0 {
		sh.violations.del(key)
	}
	sh.mu.Unlock()
	return nil
}

// IsBlocked implements Blocker.
func (b *MemoryBlocker) IsBlocked(_ context.Context, key string, now time.Time) (bool, time.Time, error) {
	n := now.UnixNano()
	sh := b.lock(key, n)
	blk, ok := sh.blocks.get(key, n)
	sh.mu.Unlock()
	if !ok {
		return false, time.Time{}, nil
	}
	return true, time.Unix(0, blk.exp).In(now.Location()), nil
}

// Block implements Blocker.
func (b *MemoryBlocker) Block(_ context.Context, key string, d time.Duration, now time.Time) (time.Time, error) {
	if d <= 0 || d > maxBurstWindow {
		return time.Time{}, fmt.Errorf("%w: block duration %v must be positive and at most %v", ErrInvalidBlockRule, d, maxBurstWindow)
	}
	n := now.UnixNano()
	sh := b.lock(key, n)
	defer sh.mu.Unlock()
	_, exists := sh.blocks.get(key, n)
	until := n + int64(d)
	sh.blocks.put(key, struct{}{}, until, exists, n)
	sh.violations.del(key)
	return time.Unix(0, until).In(now.Location()), nil
}

// Unblock implements Blocker.
func (b *MemoryBlocker) Unblock(_ context.Context, key string) error {
	sh := &b.shards[b.idx.of(key)]
	sh.mu.Lock()
	sh.blocks.del(key)
	sh.violations.del(key)
	sh.mu.Unlock()
	return nil
}

// Blocked implements Blocker.
func (b *MemoryBlocker) Blocked(_ context.Context, now time.Time) ([]BlockedKey, error) {
	n := now.UnixNano()
	out := []BlockedKey{}
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for k, s := range sh.blocks.m {
			if s.exp > n {
				out = append(out, BlockedKey{Key: k, Until: time.Unix(0, s.exp).In(now.Location())})
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b BlockedKey) int {
		if c := a.Until.Compare(b.Until); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, nil
}

// Len is the number of violation counts and blocks tracked, including
// expired ones not yet swept.
func (b *MemoryBlocker) Len() (violations, blocks int) {
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		violations += len(sh.violations.m)
		blocks += len(sh.blocks.m)
		sh.mu.Unlock()
	}
	return violations, blocks
}

// Cap is the most violation counts, and separately blocks, tracked at once.
func (b *MemoryBlocker) Cap() int {
	return len(b.shards) * b.shards[0].violations.max
}

// Sweep drops expired counts and blocks at now, returning how many.
func (b *MemoryBlocker) Sweep(now time.Time) int {
	n, removed := now.UnixNano(), 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		removed += sh.violations.sweep(n) + sh.blocks.sweep(n)
		sh.mu.Unlock()
	}
	return removed
}
