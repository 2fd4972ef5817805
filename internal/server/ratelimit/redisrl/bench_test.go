package redisrl_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
)

// benchClients are distinct client keys, so the benchmarks touch many keys
// as a server does, mostly allowed.
var benchClients = func() []string {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	return keys
}()

var benchLimit = ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1000}

// tiers are the checks of one API request: global, API, user.
func tiers(client string) []ratelimit.Check {
	return []ratelimit.Check{
		{Key: "g|" + client, Limit: benchLimit},
		{Key: "a|" + client, Limit: benchLimit},
		{Key: "u|" + client, Limit: benchLimit},
	}
}

func benchLimiters(b *testing.B) map[string]ratelimit.BatchLimiter {
	db := newRedisDB(b)
	return map[string]ratelimit.BatchLimiter{
		"Redis":  redisrl.NewLimiter(db.client(b), db.prefix()),
		"Memory": ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{}),
	}
}

// BenchmarkAllow is one Allow: for Redis, one EVALSHA round trip over
// loopback, one call at a time.
func BenchmarkAllow(b *testing.B) {
	for _, name := range []string{"Redis", "Memory"} {
		b.Run(name, func(b *testing.B) {
			l := benchLimiters(b)[name]
			now := time.Now()
			i := 0
			for b.Loop() {
				if _, err := l.Allow(b.Context(), "g|"+benchClients[i%len(benchClients)], benchLimit, now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkAllowBatch checks a request's three tiers in one call (for
// Redis, one script run).
func BenchmarkAllowBatch(b *testing.B) {
	for _, name := range []string{"Redis", "Memory"} {
		b.Run(name, func(b *testing.B) {
			l := benchLimiters(b)[name]
			checks := make([][]ratelimit.Check, len(benchClients))
			for i, c := range benchClients {
				checks[i] = tiers(c)
			}
			results := make([]ratelimit.Result, 3)
			now := time.Now()
			i := 0
			for b.Loop() {
				if err := l.AllowBatch(b.Context(), checks[i%len(checks)], now, results); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkAllowBatchParallel is AllowBatch from 8×GOMAXPROCS goroutines,
// as a busy node calls it: throughput rather than latency.
func BenchmarkAllowBatchParallel(b *testing.B) {
	for _, name := range []string{"Redis", "Memory"} {
		b.Run(name, func(b *testing.B) {
			l := benchLimiters(b)[name]
			checks := make([][]ratelimit.Check, len(benchClients))
			for i, c := range benchClients {
				checks[i] = tiers(c)
			}
			now := time.Now()
			var next atomic.Int64
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				results := make([]ratelimit.Result, 3)
				for pb.Next() {
					i := int(next.Add(1))
					if err := l.AllowBatch(b.Context(), checks[i%len(checks)], now, results); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIsBlocked is the block check every request makes first: one
// ZSCORE.
func BenchmarkIsBlocked(b *testing.B) {
	db := newRedisDB(b)
	bl := redisrl.NewBlocker(db.client(b), db.prefix())
	now := time.Now()
	if _, err := bl.Block(b.Context(), benchClients[0], time.Hour, now); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, _, err := bl.IsBlocked(b.Context(), benchClients[i%len(benchClients)], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPing is the bare round trip, the floor under every call above.
func BenchmarkPing(b *testing.B) {
	db := newRedisDB(b)
	l := redisrl.NewLimiter(db.client(b), db.prefix())
	for b.Loop() {
		if err := l.Ping(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
