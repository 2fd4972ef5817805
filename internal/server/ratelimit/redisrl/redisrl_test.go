package redisrl_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/ratelimittest"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) {
	// go-redis logs each failed dial through its own global logger; the
	// outage tests fail dials on purpose and check the errors themselves.
	redis.SetLogger(quietLogger{})
	os.Exit(testenv.Main(m))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// redisDB is an empty database of the package's Redis for one test, flushed
// when it ends.
type redisDB struct {
	url      string
	prefixes atomic.Int64
}

func newRedisDB(t testing.TB) *redisDB {
	t.Helper()
	srv := testenv.Redis(t)
	return &redisDB{url: srv.URL(srv.NewDB(t))}
}

// client returns a client made by NewClient, closed when t ends; each call
// is a separate connection pool, like a separate node.
func (d *redisDB) client(t testing.TB) redis.UniversalClient {
	t.Helper()
	c, err := redisrl.NewClient(d.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix returns a key prefix no earlier call returned, so a constructor
// given it starts empty.
func (d *redisDB) prefix() string {
	return fmt.Sprintf("t%d:", d.prefixes.Add(1))
}

func TestLimiterConformance(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	ratelimittest.RunLimiter(t, func(*testing.T) ratelimit.Limiter { return redisrl.NewLimiter(c, db.prefix()) })
}

func TestBlockerConformance(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	ratelimittest.RunBlocker(t, func(*testing.T) ratelimit.Blocker { return redisrl.NewBlocker(c, db.prefix()) })
}

// The server's readiness check pings backends that have this method.
var (
	_ interface{ Ping(context.Context) error } = (*redisrl.Limiter)(nil)
	_ interface{ Ping(context.Context) error } = (*redisrl.Blocker)(nil)
)

// TestScriptCacheFlushed checks that the scripts survive Redis forgetting
// them (a restart or a failover): EVALSHA's NOSCRIPT falls back to EVAL.
func TestScriptCacheFlushed(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	ctx := t.Context()
	l, b := redisrl.NewLimiter(c, db.prefix()), redisrl.NewBlocker(c, db.prefix())
	now := time.Now()
	for round := range 2 {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		r, err := l.Allow(ctx, "g|192.0.2.1", ratelimit.PerMinute(5), now)
		if err != nil || !r.Allowed || r.Remaining != 4-round {
			t.Errorf("round %d: Allow after SCRIPT FLUSH = %+v, %v", round, r, err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Block(ctx, "192.0.2.1", time.Minute, now); err != nil {
			t.Errorf("round %d: Block after SCRIPT FLUSH: %v", round, err)
		}
	}
}

// TestKeysExpire checks the TTLs that let Redis forget state: a TAT lives
// ResetAfter and a count Window, each plus a second, the block list until
// its latest block ends plus the tolerated skew.
func TestKeysExpire(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	ctx := t.Context()
	now := time.Now()
	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		// The TTL has run for as long as the test took since the write.
		if got > want || got < want-5*time.Second {
			t.Errorf("%s: PTTL %v, want %v (or a little less)", what, got, want)
		}
	}

	l := redisrl.NewLimiter(c, "x:")
	limit := ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 2}
	for range 3 {
		if _, err := l.Allow(ctx, "g|192.0.2.1", limit, now); err != nil {
			t.Fatal(err)
		}
	}
	near("TAT after a full burst", pttl("x:l:g|192.0.2.1"), 2*time.Minute+time.Second)

	b := redisrl.NewBlocker(c, "x:")
	rule := ratelimit.BlockRule{Threshold: 3, Duration: time.Hour, Window: 10 * time.Minute}
	if _, err := b.RecordViolation(ctx, "192.0.2.1", rule, now); err != nil {
		t.Fatal(err)
	}
	near("violation count", pttl("x:v:192.0.2.1"), 10*time.Minute+time.Second)
	if _, err := b.Block(ctx, "192.0.2.2", 2*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Block(ctx, "192.0.2.3", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	near("block list", pttl("x:blocks"), 2*time.Hour+time.Minute)
	if err := b.Unblock(ctx, "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if got, want := strings.Join(keys, " "), "x:blocks x:l:g|192.0.2.1 x:v:192.0.2.1"; got != want {
		t.Errorf("keys %s, want %s", got, want)
	}
}

// TestBlockListPruned checks that placing a block drops the entries that
// ended at least the tolerated skew (a minute) before, and only those.
func TestBlockListPruned(t *testing.T) {
	db := newRedisDB(t)
	c := db.client(t)
	ctx := t.Context()
	b := redisrl.NewBlocker(c, "p:")
	t0 := time.Date(2031, time.January, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := b.Block(ctx, k, time.Minute, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Block(ctx, "192.0.2.3", 10*time.Minute, t0.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := c.ZCard(ctx, "p:blocks").Val(); n != 3 {
		t.Fatalf("block list holds %d entries 30s past the first blocks' end, want all 3", n)
	}
	rule := ratelimit.BlockRule{Threshold: 1, Duration: time.Minute, Window: time.Minute}
	if _, err := b.RecordViolation(ctx, "192.0.2.4", rule, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	members := c.ZRange(ctx, "p:blocks", 0, -1).Val()
	if got := strings.Join(members, " "); got != "192.0.2.4 192.0.2.3" {
		t.Errorf("block list a minute past the first blocks' end = %s, want 192.0.2.4 192.0.2.3", got)
	}
}

// TestNonMillisecondEmission documents the rounding of an emission interval
// that is not a whole number of milliseconds: up, never more lenient.
func TestNonMillisecondEmission(t *testing.T) {
	db := newRedisDB(t)
	l := redisrl.NewLimiter(db.client(t), db.prefix())
	limit := ratelimit.Limit{Rate: 3, Period: time.Second, Burst: 1} // 333.33ms, kept as 334ms
	now := time.Date(2031, time.January, 1, 0, 0, 0, 0, time.UTC)
	for i, step := range []struct {
		at   time.Duration
		want ratelimit.Result
	}{
		{0, ratelimit.Result{Limit: limit, Allowed: true, ResetAfter: 334 * time.Millisecond}},
		{333 * time.Millisecond, ratelimit.Result{Limit: limit, RetryAfter: time.Millisecond, ResetAfter: time.Millisecond}},
		{334 * time.Millisecond, ratelimit.Result{Limit: limit, Allowed: true, ResetAfter: 334 * time.Millisecond}},
	} {
		got, err := l.Allow(t.Context(), "k", limit, now.Add(step.at))
		if err != nil {
			t.Fatal(err)
		}
		if got != step.want {
			t.Errorf("step %d at +%v: %+v, want %+v", i, step.at, got, step.want)
		}
	}
}

func TestNewClient(t *testing.T) {
	options := func(t *testing.T, url string) *redis.Options {
		t.Helper()
		c, err := redisrl.NewClient(url)
		if err != nil {
			t.Fatalf("NewClient(%q): %v", url, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		rc, ok := c.(*redis.Client)
		if !ok {
			t.Fatalf("NewClient returned a %T", c)
		}
		return rc.Options()
	}
	t.Run("Defaults", func(t *testing.T) {
		o := options(t, "redis://:pw@redis.example:6380/3")
		if o.Addr != "redis.example:6380" || o.DB != 3 || o.Password != "pw" || o.TLSConfig != nil {
			t.Errorf("addr %s db %d password %q TLS %v", o.Addr, o.DB, o.Password, o.TLSConfig)
		}
		if o.DialTimeout != redisrl.DefaultDialTimeout || o.ReadTimeout != redisrl.DefaultReadTimeout ||
			o.WriteTimeout != redisrl.DefaultWriteTimeout || o.PoolTimeout != redisrl.DefaultPoolTimeout ||
			o.MaxRetries != redisrl.DefaultMaxRetries || o.MinIdleConns != 0 ||
			o.DialerRetries != 1 || !o.ContextTimeoutEnabled || o.ClientName != redisrl.DefaultClientName {
			t.Errorf("options %+v do not carry the package defaults", o)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		o := options(t, "rediss://redis.example")
		if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.TLSConfig.MinVersion < tls.VersionTLS12 || o.Addr != "redis.example:6379" {
			t.Errorf("rediss:// gave addr %s and TLS config %+v", o.Addr, o.TLSConfig)
		}
	})
	t.Run("URLOverrides", func(t *testing.T) {
		// max_retries=-1 disables retries; go-redis then reports 0.
		o := options(t, "redis://localhost/0?read_timeout=2s&dial_timeout=1s&max_retries=-1&pool_size=7")
		if o.ReadTimeout != 2*time.Second || o.DialTimeout != time.Second || o.MaxRetries != 0 || o.PoolSize != 7 ||
			o.WriteTimeout != redisrl.DefaultWriteTimeout {
			t.Errorf("query settings not kept: read %v dial %v retries %d pool %d write %v",
				o.ReadTimeout, o.DialTimeout, o.MaxRetries, o.PoolSize, o.WriteTimeout)
		}
	})
	for _, bad := range []string{
		"redis://:s3cret@redis.example/db",
		"redis://:s3cret%zz@redis.example/",
		"http://:s3cret@redis.example/",
		"unix:///run/redis.sock?password=s3cret",
		"redis://:s3cret@redis.example/0?no_such_option=1",
	} {
		_, err := redisrl.NewClient(bad)
		if err == nil {
			t.Errorf("NewClient(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewClient(%q): error %q repeats the password", bad, err)
		}
	}
}
