package ratelimit

import (
	"hash/maphash"
	"math"
	"math/bits"
	"time"
)

// Defaults for MemoryOptions.
const (
	// DefaultMaxKeys bounds the keys a memory backend tracks. A tracked
	// limiter key with an IPv4 client costs about 70 bytes, its key string
	// included (see BenchmarkMemoryLimiterHeap), so the default caps the
	// limiter near 18 MiB under a flood.
	DefaultMaxKeys = 1 << 18
	// DefaultShards is the number of independently locked shards.
	DefaultShards = 64
	// DefaultSweepInterval is how often, at most, a shard drops all of its
	// expired entries in one pass.
	DefaultSweepInterval = time.Minute
)

// evictionSamples is how many entries a full shard inspects to choose a
// victim, as Redis does for its approximated eviction.
const evictionSamples = 8

// MemoryOptions sizes an in-memory backend. The zero value gives the defaults.
type MemoryOptions struct {
	// MaxKeys is the most keys tracked at once. When a shard is full a new
	// key evicts an expired entry or, failing that, the sampled entry closest
	// to expiry: for a limiter that is the client nearest to a full burst,
	// so the least information is lost. Each of the Blocker's two tables
	// (violation counts and blocks) has this cap of its own.
	MaxKeys int
	// Shards is the number of lock shards, rounded up to a power of two and
	// reduced so each shard holds at least one key.
	Shards int
	// SweepInterval is how often, at most, a shard scans itself for expired
	// entries (lazily, during a call that touches it) and shrinks its map
	// after a flood has passed.
	SweepInterval time.Duration
}

func (o MemoryOptions) withDefaults() MemoryOptions {
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	if o.Shards > o.MaxKeys {
		o.Shards = o.MaxKeys
	}
	o.Shards = 1 << bits.Len(uint(o.Shards-1)) // round up to a power of two
	for o.Shards > 1 && o.MaxKeys/o.Shards < 1 {
		o.Shards /= 2
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return o
}

// shardIndex spreads keys over shards with a per-instance random seed, so a
// client cannot aim all its keys at one shard to evict a victim's state.
type shardIndex struct {
	seed maphash.Seed
	mask uint64
}

func newShardIndex(n int) shardIndex {
	return shardIndex{seed: maphash.MakeSeed(), mask: uint64(n - 1)}
}

func (s shardIndex) of(key string) uint64 {
	return maphash.String(s.seed, key) & s.mask
}

// slot is a value with its expiry in Unix nanoseconds. val comes first so a
// zero-size V adds no padding.
type slot[V any] struct {
	val V
	exp int64
}

// expiring is a bounded map whose entries vanish at their expiry. It is not
// locked: a shard's mutex guards it.
type expiring[V any] struct {
	m         map[string]slot[V]
	max       int
	peak      int
	lastSweep int64
	sweepNs   int64
}

func newExpiring[V any](max int, sweep time.Duration) expiring[V] {
	return expiring[V]{m: make(map[string]slot[V]), max: max, sweepNs: int64(sweep)}
}

// maintain runs the periodic sweep when it is due.
func (e *expiring[V]) maintain(now int64) {
	if now-e.lastSweep >= e.sweepNs || now < e.lastSweep {
		e.sweep(now)
	}
}

// get returns key's live entry, deleting it if it has expired.
func (e *expiring[V]) get(key string, now int64) (slot[V], bool) {
	s, ok := e.m[key]
	if !ok {
		return s, false
	}
	if s.exp <= now {
		delete(e.m, key)
		return slot[V]{}, false
	}
	return s, true
}

// put stores key; exists says whether get just found it, so a new key can
// make room first.
func (e *expiring[V]) put(key string, val V, exp int64, exists bool, now int64) {
	if !exists && len(e.m) >= e.max {
		e.evict(now)
	}
	e.m[key] = slot[V]{val: val, exp: exp}
	if n := len(e.m); n > e.peak {
		e.peak = n
	}
}

func (e *expiring[V]) del(key string) { delete(e.m, key) }

// evict removes the expired entries among a few sampled ones or, if none
// has expired, the sampled entry that expires first. Go randomises where map
// iteration starts, which makes the sample random enough.
func (e *expiring[V]) evict(now int64) {
	victim, victimExp, seen, dropped := "", int64(math.MaxInt64), 0, false
	for k, s := range e.m {
		if s.exp <= now {
			delete(e.m, k)
			dropped = true
		} else if s.exp < victimExp {
			victim, victimExp = k, s.exp
		}
		if seen++; seen == evictionSamples {
			break
		}
	}
	if !dropped && seen > 0 {
		delete(e.m, victim)
	}
}

// sweep drops every expired entry and, when the map has shrunk to a quarter
// of its peak, rebuilds it: Go maps never give back memory on delete.
func (e *expiring[V]) sweep(now int64) int {
	e.lastSweep = now
	removed := 0
	for k, s := range e.m {
		if s.exp <= now {
			delete(e.m, k)
			removed++
		}
	}
	if n := len(e.m); e.peak >= 1024 && n <= e.peak/4 {
		m := make(map[string]slot[V], n*2)
		for k, s := range e.m {
			m[k] = s
		}
		e.m = m
		e.peak = n
	}
	return removed
}
