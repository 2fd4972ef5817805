package ratelimit_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/ratelimittest"
)

func TestMemoryLimiterConformance(t *testing.T) {
	for _, opts := range []ratelimit.MemoryOptions{{}, {Shards: 1}, {MaxKeys: 4096, Shards: 3}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ratelimittest.RunLimiter(t, func(*testing.T) ratelimit.Limiter { return ratelimit.NewMemoryLimiter(opts) })
		})
	}
}

func TestMemoryBlockerConformance(t *testing.T) {
	for _, opts := range []ratelimit.MemoryOptions{{}, {Shards: 1}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ratelimittest.RunBlocker(t, func(*testing.T) ratelimit.Blocker { return ratelimit.NewMemoryBlocker(opts) })
		})
	}
}

var t0 = time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)

func mustAllow(t testing.TB, l ratelimit.Limiter, key string, limit ratelimit.Limit, now time.Time) ratelimit.Result {
	t.Helper()
	r, err := l.Allow(t.Context(), key, limit, now)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return r
}

func TestMemoryOptionsCap(t *testing.T) {
	tests := []struct {
		opts ratelimit.MemoryOptions
		want int
	}{
		{ratelimit.MemoryOptions{}, ratelimit.DefaultMaxKeys},
		{ratelimit.MemoryOptions{MaxKeys: 1000, Shards: 8}, 1000},
		{ratelimit.MemoryOptions{MaxKeys: 1000}, 960},             // 64 shards of 15
		{ratelimit.MemoryOptions{MaxKeys: 1000, Shards: 5}, 1000}, // rounded up to 8 shards of 125
		{ratelimit.MemoryOptions{MaxKeys: 3}, 2},                  // 2 shards of 1
		{ratelimit.MemoryOptions{MaxKeys: 1}, 1},
	}
	for _, tt := range tests {
		if got := ratelimit.NewMemoryLimiter(tt.opts).Cap(); got != tt.want {
			t.Errorf("NewMemoryLimiter(%+v).Cap() = %d, want %d", tt.opts, got, tt.want)
		}
		if got := ratelimit.NewMemoryBlocker(tt.opts).Cap(); got != tt.want {
			t.Errorf("NewMemoryBlocker(%+v).Cap() = %d, want %d", tt.opts, got, tt.want)
		}
	}
}

// TestMemoryLimiterBounded floods a small limiter with fifty times its
// capacity of live keys: it never tracks more than Cap, every new key is
// still answered as new, and the most recent key survives.
func TestMemoryLimiterBounded(t *testing.T) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{MaxKeys: 1000, Shards: 8})
	limit := ratelimit.PerPeriod(10, time.Hour) // every key stays live for the whole test
	capacity := l.Cap()
	for i := range 50 * capacity {
		key := "g|10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		if r := mustAllow(t, l, key, limit, t0); !r.Allowed || r.Remaining != 9 {
			t.Fatalf("new key %d: %+v, want allowed with 9 remaining", i, r)
		}
		if i%97 == 0 {
			if n := l.Len(); n > capacity {
				t.Fatalf("after %d keys Len = %d, more than Cap %d", i+1, n, capacity)
			}
		}
	}
	if n := l.Len(); n != capacity {
		t.Fatalf("after the flood Len = %d, want Cap %d (every shard full)", n, capacity)
	}
	last := "g|10.0.195.79" // key 49999
	if r := mustAllow(t, l, last, limit, t0); r.Remaining != 8 {
		t.Fatalf("the most recent key was evicted: %+v", r)
	}
}

// TestMemoryLimiterEvictsNearestToReset fills a one-shard limiter (its
// eviction sample then covers every entry) and checks that a new key evicts
// the tracked key closest to a full burst, and nothing else.
func TestMemoryLimiterEvictsNearestToReset(t *testing.T) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{MaxKeys: 8, Shards: 1, SweepInterval: time.Hour})
	limit := ratelimit.PerPeriod(10, time.Second) // T = 100ms
	// key i has spent i+1 requests: it resets (i+1)×100ms from t0.
	for _, i := range []int{5, 2, 7, 0, 4, 1, 6, 3} {
		for range i + 1 {
			mustAllow(t, l, "k"+strconv.Itoa(i), limit, t0)
		}
	}
	if n := l.Len(); n != 8 {
		t.Fatalf("Len = %d, want 8", n)
	}
	mustAllow(t, l, "new", limit, t0)
	if n := l.Len(); n != 8 {
		t.Fatalf("after a new key Len = %d, want 8", n)
	}
	// Existing keys never evict: probe k1..k7 first, then k0.
	for i := 7; i >= 1; i-- {
		if r := mustAllow(t, l, "k"+strconv.Itoa(i), limit, t0); r.Remaining != 10-(i+1)-1 {
			t.Errorf("k%d: Remaining %d, want %d: it lost its state", i, r.Remaining, 10-(i+1)-1)
		}
	}
	if r := mustAllow(t, l, "k0", limit, t0); r.Remaining != 9 {
		t.Errorf("k0 (closest to reset): Remaining %d, want 9 (evicted, so new)", r.Remaining)
	}
}

// TestMemoryLimiterEvictsExpiredFirst checks that a full shard drops expired
// entries to make room before it evicts a live one.
func TestMemoryLimiterEvictsExpiredFirst(t *testing.T) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{MaxKeys: 8, Shards: 1, SweepInterval: time.Hour})
	short := ratelimit.PerPeriod(1, time.Second)
	long := ratelimit.PerPeriod(5, time.Hour)
	for i := range 4 {
		mustAllow(t, l, "short"+strconv.Itoa(i), short, t0)
		mustAllow(t, l, "long"+strconv.Itoa(i), long, t0)
	}
	// At +1s the short keys have expired; no sweep is due for an hour.
	mustAllow(t, l, "new", long, t0.Add(time.Second))
	if n := l.Len(); n != 5 {
		t.Fatalf("Len = %d, want 5: the four expired keys dropped, the new one added", n)
	}
	for i := range 4 {
		if r := mustAllow(t, l, "long"+strconv.Itoa(i), long, t0.Add(time.Second)); r.Remaining != 3 {
			t.Errorf("long%d lost its state: %+v", i, r)
		}
	}
}

func TestMemoryLimiterSweep(t *testing.T) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{Shards: 4})
	for i := range 100 {
		mustAllow(t, l, "s"+strconv.Itoa(i), ratelimit.PerPeriod(1, time.Second), t0)
		mustAllow(t, l, "m"+strconv.Itoa(i), ratelimit.PerPeriod(1, time.Minute), t0)
	}
	if n := l.Sweep(t0.Add(time.Second - time.Millisecond)); n != 0 {
		t.Errorf("Sweep before any expiry dropped %d", n)
	}
	if n := l.Sweep(t0.Add(time.Second)); n != 100 {
		t.Errorf("Sweep at +1s dropped %d, want 100", n)
	}
	if n := l.Len(); n != 100 {
		t.Errorf("Len after the sweep = %d, want 100", n)
	}
	if n := l.Sweep(t0.Add(time.Minute)); n != 100 || l.Len() != 0 {
		t.Errorf("Sweep at +1m dropped %d leaving %d, want 100 leaving 0", n, l.Len())
	}
}

// TestMemoryLimiterSweepsLazily checks that a shard drops its expired keys by
// itself, during a call, once SweepInterval has passed since its last sweep.
func TestMemoryLimiterSweepsLazily(t *testing.T) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{Shards: 1, SweepInterval: time.Minute})
	limit := ratelimit.PerPeriod(1, time.Second)
	for i := range 100 {
		mustAllow(t, l, "k"+strconv.Itoa(i), limit, t0) // the first call swept at t0
	}
	mustAllow(t, l, "a", limit, t0.Add(30*time.Second))
	if n := l.Len(); n != 101 {
		t.Fatalf("Len at +30s = %d, want 101: no sweep is due yet", n)
	}
	mustAllow(t, l, "b", limit, t0.Add(time.Minute))
	if n := l.Len(); n != 1 {
		t.Fatalf("Len at +1m = %d, want 1: the sweep dropped every expired key", n)
	}
}

// TestMemoryLimiterGivesBackMemory checks that after a flood has expired a
// sweep returns the map's memory, which deleting alone never does in Go.
func TestMemoryLimiterGivesBackMemory(t *testing.T) {
	const n = 1 << 17
	base := liveHeap()
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{MaxKeys: 2 * n})
	for i := range n {
		mustAllow(t, l, "g|"+strconv.Itoa(i), ratelimit.PerPeriod(1, time.Second), t0)
	}
	mustAllow(t, l, "g|survivor", ratelimit.PerPeriod(1, time.Hour), t0)
	flooded := liveHeap() - base
	if removed := l.Sweep(t0.Add(time.Minute)); removed != n {
		t.Fatalf("Sweep removed %d, want %d", removed, n)
	}
	after := liveHeap() - base
	if after > flooded/8 {
		t.Errorf("live heap after the flood expired = %d bytes, want at most 1/8 of the %d during it", after, flooded)
	}
	if r := mustAllow(t, l, "g|survivor", ratelimit.PerPeriod(1, time.Hour), t0.Add(time.Minute)); r.Allowed {
		t.Errorf("the live key lost its state in the rebuild: %+v", r)
	}
	runtime.KeepAlive(l)
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestMemoryBlockerBounded floods both of the blocker's tables.
func TestMemoryBlockerBounded(t *testing.T) {
	b := ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{MaxKeys: 256, Shards: 4})
	rule := ratelimit.BlockRule{Threshold: 3, Duration: time.Hour, Window: time.Hour}
	capacity := b.Cap()
	for i := range 20 * capacity {
		key := "198.51." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		if v, err := b.RecordViolation(t.Context(), key, rule, t0); err != nil || v.Count != 1 {
			t.Fatalf("RecordViolation(%s) = %+v, %v; want count 1", key, v, err)
		}
		if _, err := b.Block(t.Context(), "b"+key, time.Hour, t0); err != nil {
			t.Fatal(err)
		}
		if violations, blocks := b.Len(); violations > capacity || blocks > capacity {
			t.Fatalf("after %d keys Len = %d violations, %d blocks; Cap is %d", i+1, violations, blocks, capacity)
		}
	}
	if violations, blocks := b.Len(); violations != capacity || blocks != capacity {
		t.Fatalf("after the flood Len = %d, %d; want %d each", violations, blocks, capacity)
	}
	if n := b.Sweep(t0.Add(time.Hour)); n != 2*capacity {
		t.Fatalf("Sweep at expiry dropped %d, want %d", n, 2*capacity)
	}
	if violations, blocks := b.Len(); violations != 0 || blocks != 0 {
		t.Fatalf("after the sweep Len = %d, %d", violations, blocks)
	}
}

// BenchmarkMemoryLimiterAllow measures Allow on the hot path: one busy key,
// and many distinct keys, more than DefaultMaxKeys so new keys evict.
func BenchmarkMemoryLimiterAllow(b *testing.B) {
	limit := ratelimit.PerMinute(100)
	for _, n := range []int{1, 10_000, 1 << 20} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = "g|10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		}
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{})
			now := t0
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Allow(b.Context(), keys[i%n], limit, now); err != nil {
					b.Fatal(err)
				}
				i++
				if i%1024 == 0 {
					now = now.Add(time.Millisecond)
				}
			}
		})
		b.Run("keys="+strconv.Itoa(n)+"/parallel", func(b *testing.B) {
			l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{})
			b.ReportAllocs()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(1)) * 104729 // each goroutine starts elsewhere
				for pb.Next() {
					if _, err := l.Allow(b.Context(), keys[i%n], limit, t0); err != nil {
						b.Error(err)
						return
					}
					i += 7919 // a prime stride, so goroutines hit different keys
				}
			})
		})
	}
}

// BenchmarkMemoryLimiterHeap floods a default MemoryLimiter with twice
// DefaultMaxKeys IPv4 clients and reports the live heap per tracked key, key
// strings included, and in all: the figures DefaultMaxKeys is sized by.
func BenchmarkMemoryLimiterHeap(b *testing.B) {
	const n = 2 * ratelimit.DefaultMaxKeys
	var perKey, total float64
	for b.Loop() {
		base := liveHeap()
		l := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{})
		for i := range n {
			key := "g|10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
			mustAllow(b, l, key, ratelimit.PerMinute(100), t0)
		}
		if l.Len() != l.Cap() {
			b.Fatalf("Len %d after the flood, want Cap %d", l.Len(), l.Cap())
		}
		heap := liveHeap() - base
		perKey, total = float64(heap)/float64(l.Len()), float64(heap)/(1<<20)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(total, "MiB")
}
