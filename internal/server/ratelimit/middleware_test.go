package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

// harness is a middleware around a handler that answers 200 "ok", with
// memory backends and recorded callbacks. Build it inside a synctest bubble:
// the middleware's clock is then the bubble's.
type harness struct {
	t       *testing.T
	handler http.Handler
	limiter *ratelimit.MemoryLimiter
	blocker *ratelimit.MemoryBlocker
	served  int
	// log records the callbacks in order: "violation", "block", "error".
	log        []string
	violations []ratelimit.Event
	blocks     []ratelimit.Event
	errs       []error
	userCalls  int
}

// classify is the test server's route table.
func classify(r *http.Request) ratelimit.Class {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		return ratelimit.ClassAPI
	case r.URL.Path == "/login":
		return ratelimit.ClassAuth
	case r.URL.Path == "/healthz":
		return ratelimit.ClassUnlimited
	}
	return ratelimit.ClassGeneral
}

func newHarness(t *testing.T, policy ratelimit.Policy, configure ...func(*ratelimit.Config)) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		limiter: ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{}),
		blocker: ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{}),
	}
	cfg := ratelimit.Config{
		Policy:   policy,
		Limiter:  h.limiter,
		Blocker:  h.blocker,
		Classify: classify,
		UserID: func(r *http.Request) string {
			h.userCalls++
			return r.Header.Get("X-Test-User")
		},
		OnViolation: func(_ *http.Request, ev ratelimit.Event) {
			h.log = append(h.log, "violation")
			h.violations = append(h.violations, ev)
		},
		OnBlock: func(_ *http.Request, ev ratelimit.Event) {
			h.log = append(h.log, "block")
			h.blocks = append(h.blocks, ev)
		},
		OnError: func(_ *http.Request, err error) {
			h.log = append(h.log, "error")
			h.errs = append(h.errs, err)
		},
	}
	for _, c := range configure {
		c(&cfg)
	}
	mw, err := ratelimit.Middleware(cfg)
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	h.handler = mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.served++
		_, _ = w.Write([]byte("ok"))
	}))
	return h
}

// do sends a request for path from remote; header is name, value pairs.
func (h *harness) do(path, remote string, header ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, r)
	return w
}

// doN sends n requests and fails unless every one is answered with status.
func (h *harness) doN(n int, status int, path, remote string, header ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	var w *httptest.ResponseRecorder
	for i := range n {
		w = h.do(path, remote, header...)
		if w.Code != status {
			h.t.Fatalf("request %d of %d to %s from %s: status %d, want %d", i+1, n, path, remote, w.Code, status)
		}
	}
	return w
}

// rateLimitFields are the fields the package documentation specifies.
var rateLimitFields = []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After"}

// wantFields checks the rate-limit fields of w: want maps each of
// rateLimitFields to its value, absent ones to "".
func wantFields(t *testing.T, w *httptest.ResponseRecorder, want map[string]string) {
	t.Helper()
	for _, f := range rateLimitFields {
		if got := w.Header().Get(f); got != want[f] {
			t.Errorf("%s: %q, want %q", f, got, want[f])
		}
	}
}

func fields(limit, remaining, reset, policy, retry string) map[string]string {
	return map[string]string{
		"RateLimit-Limit": limit, "RateLimit-Remaining": remaining, "RateLimit-Reset": reset,
		"RateLimit-Policy": policy, "Retry-After": retry,
	}
}

// TestDefaultPolicyTiers drives each tier of DefaultPolicy to its first
// refusal and checks the fields on the first, the last allowed and the
// refused response, and how long the client must wait.
func TestDefaultPolicyTiers(t *testing.T) {
	tests := []struct {
		name            string
		path            string
		burst           int
		first, last     map[string]string
		refused         map[string]string
		tier            ratelimit.Tier
		retryAfterExact time.Duration // RetryAfter before rounding
	}{
		{
			name: "global", path: "/", burst: 100,
			first:   fields("100", "99", "1", "100;w=60", ""),
			last:    fields("100", "0", "60", "100;w=60", ""),
			refused: fields("100", "0", "60", "100;w=60", "1"),
			tier:    ratelimit.TierGlobal, retryAfterExact: 600 * time.Millisecond,
		},
		{
			name: "api", path: "/api/v1/backups", burst: 60,
			first:   fields("60", "59", "1", "60;w=60", ""),
			last:    fields("60", "0", "60", "60;w=60", ""),
			refused: fields("60", "0", "60", "60;w=60", "1"),
			tier:    ratelimit.TierAPI, retryAfterExact: time.Second,
		},
		{
			name: "auth", path: "/login", burst: 5,
			first:   fields("5", "4", "180", "5;w=900", ""),
			last:    fields("5", "0", "900", "5;w=900", ""),
			refused: fields("5", "0", "900", "5;w=900", "180"),
			tier:    ratelimit.TierAuth, retryAfterExact: 3 * time.Minute,
		},
	}
	for _, backend := range []string{"batch", "single"} {
		for _, tt := range tests {
			t.Run(backend+"/"+tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
						if backend == "single" {
							c.Limiter = onlyLimiter{c.Limiter} // hide AllowBatch
						}
					})
					const client = "203.0.113.9:51000"
					start := time.Now()
					wantFields(t, h.doN(1, http.StatusOK, tt.path, client), tt.first)
					h.doN(tt.burst-2, http.StatusOK, tt.path, client)
					wantFields(t, h.doN(1, http.StatusOK, tt.path, client), tt.last)

					w := h.do(tt.path, client)
					if w.Code != http.StatusTooManyRequests {
						t.Fatalf("request %d: status %d, want 429", tt.burst+1, w.Code)
					}
					wantFields(t, w, tt.refused)
					if got := w.Header().Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control on 429 = %q, want no-store", got)
					}
					if got := w.Body.String(); got != `{"error":"too many requests"}`+"\n" {
						t.Errorf("body = %q", got)
					}
					if h.served != tt.burst {
						t.Errorf("handler served %d requests, want %d", h.served, tt.burst)
					}
					if len(h.violations) != 1 {
						t.Fatalf("OnViolation called %d times, want 1", len(h.violations))
					}
					ev := h.violations[0]
					if ev.Tier != tt.tier || ev.Class != classify(httptest.NewRequest("GET", tt.path, nil)) ||
						ev.Key != "203.0.113.9" || ev.IP.String() != "203.0.113.9" || !ev.Time.Equal(start) ||
						ev.Violations != 1 || !ev.BlockedUntil.IsZero() || ev.UserID != "" ||
						ev.Result.Allowed || ev.Result.RetryAfter != tt.retryAfterExact {
						t.Errorf("event = %+v", ev)
					}

					// The client may retry after exactly RetryAfter, not before.
					time.Sleep(tt.retryAfterExact - time.Millisecond)
					h.doN(1, http.StatusTooManyRequests, tt.path, client)
					time.Sleep(time.Millisecond)
					h.doN(1, http.StatusOK, tt.path, client)
					if len(h.blocks) != 0 || len(h.errs) != 0 {
						t.Errorf("blocks %v, errors %v; want none", h.blocks, h.errs)
					}
				})
			})
		}
	}
}

// onlyLimiter hides a backend's AllowBatch, so the middleware calls Allow.
type onlyLimiter struct{ ratelimit.Limiter }

// TestMostRestrictiveTier checks which tier's fields are reported when a
// request is checked against several: the fewest remaining while all allow.
func TestMostRestrictiveTier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		const client = "198.51.100.4:1000"
		// Global 99 left, API 59: the API tier is reported...
		wantFields(t, h.doN(1, http.StatusOK, "/api/v1/x", client), fields("60", "59", "1", "60;w=60", ""))
		// ...until general traffic has used more of the global tier: 48 left
		// against 58, and the global TAT is 52 × 600ms = 31.2s away.
		h.doN(50, http.StatusOK, "/", client)
		wantFields(t, h.doN(1, http.StatusOK, "/api/v1/x", client), fields("100", "48", "32", "100;w=60", ""))
		h.doN(47, http.StatusOK, "/", client)
		wantFields(t, h.doN(1, http.StatusOK, "/api/v1/x", client), fields("100", "0", "60", "100;w=60", ""))
		// A refusal beats any allowance: global refuses, API (56 left) would allow.
		wantFields(t, h.doN(1, http.StatusTooManyRequests, "/api/v1/x", client), fields("100", "0", "60", "100;w=60", "1"))
		if ev := h.violations[0]; ev.Tier != ratelimit.TierGlobal || ev.Class != ratelimit.ClassAPI {
			t.Errorf("event tier %v class %v, want global, api", ev.Tier, ev.Class)
		}
	})
}

// TestLongestRetryAfterReported: when several tiers refuse, the one that
// makes the client wait longest is reported.
func TestLongestRetryAfterReported(t *testing.T) {
	tests := []struct {
		name        string
		global, api ratelimit.Limit
		api1, gen   int // API requests, then general ones, all allowed
		want        map[string]string
		tier        ratelimit.Tier
	}{
		{
			name:   "api waits longer",
			global: ratelimit.PerMinute(60), api: ratelimit.PerMinute(6), // T 1s, 10s
			api1: 6, gen: 54,
			want: fields("6", "0", "60", "6;w=60", "10"), tier: ratelimit.TierAPI,
		},
		{
			name:   "global waits longer",
			global: ratelimit.Limit{Rate: 6, Period: time.Minute, Burst: 100}, api: ratelimit.PerMinute(60), // T 10s, 1s
			api1: 60, gen: 40,
			want: fields("100", "0", "1000", "6;w=60;burst=100", "10"), tier: ratelimit.TierGlobal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ratelimit.DefaultPolicy()
				p.Global, p.API = tt.global, tt.api
				h := newHarness(t, p)
				const client = "198.51.100.5:1000"
				h.doN(tt.api1, http.StatusOK, "/api/v1/x", client)
				h.doN(tt.gen, http.StatusOK, "/", client)
				wantFields(t, h.doN(1, http.StatusTooManyRequests, "/api/v1/x", client), tt.want)
				if ev := h.violations[0]; ev.Tier != tt.tier {
					t.Errorf("event tier %v, want %v", ev.Tier, tt.tier)
				}
			})
		})
	}
}

// TestBlockAfterFiveViolations is issue 4's scenario: the fifth consecutive
// refusal blocks the client for an hour, then it is let in again.
func TestBlockAfterFiveViolations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		const client = "192.0.2.50:4000"
		start := time.Now()
		h.doN(5, http.StatusOK, "/login", client)
		for i := 1; i <= 4; i++ {
			h.doN(1, http.StatusTooManyRequests, "/login", client)
			if got := h.violations[i-1].Violations; got != i {
				t.Errorf("violation %d: Event.Violations = %d", i, got)
			}
		}
		if len(h.blocks) != 0 {
			t.Fatalf("blocked after 4 violations: %+v", h.blocks)
		}
		w := h.do("/login", client)
		if w.Code != http.StatusForbidden {
			t.Fatalf("fifth violation: status %d, want 403", w.Code)
		}
		wantFields(t, w, nil) // no rate-limit fields on 403
		if got := w.Body.String(); got != `{"error":"forbidden: this address is blocked"}`+"\n" {
			t.Errorf("403 body = %q", got)
		}
		if got := strings.Join(h.log, ","); got != "violation,violation,violation,violation,violation,block" {
			t.Fatalf("callbacks: %s; want five violations, then the block", got)
		}
		until := start.Add(time.Hour)
		for _, ev := range []ratelimit.Event{h.violations[4], h.blocks[0]} {
			if ev.Violations != 5 || !ev.BlockedUntil.Equal(until) || ev.Key != "192.0.2.50" || ev.Tier != ratelimit.TierAuth {
				t.Errorf("blocking event = %+v, want 5 violations, blocked until %v", ev, until)
			}
		}

		// Every class, even unlimited, is refused for the hour; nothing is
		// counted or reported.
		time.Sleep(time.Hour - time.Millisecond)
		for _, path := range []string{"/", "/api/v1/x", "/login", "/healthz"} {
			wantFields(t, h.doN(1, http.StatusForbidden, path, client), nil)
		}
		if h.served != 5 || len(h.log) != 6 {
			t.Fatalf("during the block: served %d, callbacks %v", h.served, h.log)
		}
		if blocked, err := h.blocker.Blocked(t.Context(), time.Now()); err != nil || len(blocked) != 1 ||
			blocked[0].Key != "192.0.2.50" || !blocked[0].Until.Equal(until) {
			t.Errorf("Blocked = %v, %v", blocked, err)
		}

		// At the end of the hour the client starts afresh: auth refilled,
		// violations counted from one.
		time.Sleep(time.Millisecond)
		wantFields(t, h.doN(1, http.StatusOK, "/login", client), fields("5", "4", "180", "5;w=900", ""))
		h.doN(4, http.StatusOK, "/login", client)
		h.doN(1, http.StatusTooManyRequests, "/login", client)
		if got := h.violations[len(h.violations)-1].Violations; got != 1 {
			t.Errorf("first violation after the block counted as %d", got)
		}
	})
}

// TestAllowedRequestResetsViolations checks "consecutive": an allowed
// request between refusals starts the count again.
func TestAllowedRequestResetsViolations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		const client = "192.0.2.51:4000"
		h.doN(5, http.StatusOK, "/login", client)
		h.doN(4, http.StatusTooManyRequests, "/login", client)
		h.doN(1, http.StatusOK, "/", client) // allowed by the global tier
		h.doN(4, http.StatusTooManyRequests, "/login", client)
		if last := h.violations[len(h.violations)-1].Violations; len(h.blocks) != 0 || last != 4 {
			t.Fatalf("blocks %v, last count %d; want no block, count 4", h.blocks, last)
		}
		h.doN(1, http.StatusForbidden, "/login", client)
	})
}

// TestViolationsFartherApartThanWindow: a count lasts Window after the latest
// violation, so refusals an hour apart never block.
func TestViolationsFartherApartThanWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{
			Global: ratelimit.PerPeriod(1, 3*time.Hour),
			Block:  ratelimit.BlockRule{Threshold: 2, Duration: time.Hour, Window: time.Hour},
		}
		h := newHarness(t, p)
		const client = "192.0.2.52:4000"
		h.doN(1, http.StatusOK, "/", client)
		h.doN(1, http.StatusTooManyRequests, "/", client)
		time.Sleep(time.Hour)
		h.doN(1, http.StatusTooManyRequests, "/", client)
		time.Sleep(time.Hour - time.Millisecond)
		h.doN(1, http.StatusForbidden, "/", client)
		var counts []int
		for _, ev := range h.violations {
			counts = append(counts, ev.Violations)
		}
		if !slices.Equal(counts, []int{1, 1, 2}) || len(h.blocks) != 1 {
			t.Errorf("violation counts %v, %d blocks; want [1 1 2], 1", counts, len(h.blocks))
		}
	})
}

// TestAllowList: allow-listed clients skip limits, blocks and backend
// failures; the list applies to the resolved client, not the proxy.
func TestAllowList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := errors.New("backend down")
		h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			c.AllowList = clientip.MustParsePrefixes("192.0.2.0/24", "2001:db8:aa::/48")
			c.ClientIP = clientip.NewResolver(clientip.MustParsePrefixes("10.0.0.0/8"))
		})
		for _, client := range []string{"192.0.2.7:1000", "[2001:db8:aa:1::9]:1000"} {
			for _, path := range []string{"/", "/api/v1/x", "/login"} {
				wantFields(t, h.doN(300, http.StatusOK, path, client), nil)
			}
		}
		wantFields(t, h.doN(10, http.StatusOK, "/login", "10.0.0.1:1000", "X-Forwarded-For", "192.0.2.8"), nil)
		if _, err := h.blocker.Block(t.Context(), "192.0.2.7", time.Hour, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.doN(1, http.StatusOK, "/login", "192.0.2.7:1000")
		if n := h.limiter.Len(); n != 0 || len(h.log) != 0 || h.userCalls != 0 {
			t.Fatalf("allow-listed traffic reached the limiter (%d keys), callbacks %v, UserID %d times", n, h.log, h.userCalls)
		}

		// Neighbours, and a spoofed header from an untrusted peer, are limited.
		h.doN(5, http.StatusOK, "/login", "192.0.3.1:1000")
		h.doN(1, http.StatusTooManyRequests, "/login", "192.0.3.1:1000")
		h.doN(5, http.StatusOK, "/login", "198.51.100.1:1000", "X-Forwarded-For", "192.0.2.7")
		h.doN(1, http.StatusTooManyRequests, "/login", "198.51.100.1:1000", "X-Forwarded-For", "192.0.2.7")

		// Allow-listed clients pass even when the backend fails closed.
		h2 := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			c.AllowList = clientip.MustParsePrefixes("192.0.2.0/24")
			c.Limiter = failingLimiter{Limiter: c.Limiter, err: down}
		})
		h2.doN(1, http.StatusOK, "/login", "192.0.2.7:1000")
		h2.doN(1, http.StatusServiceUnavailable, "/login", "192.0.3.7:1000")
	})
}

// TestLoopbackNotExempt: nothing is allow-listed by default, loopback included.
func TestLoopbackNotExempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		for _, client := range []string{"127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.2]:5000"} {
			h.doN(100, http.StatusOK, "/", client)
			h.doN(1, http.StatusTooManyRequests, "/", client)
		}
		var keys []string
		for _, ev := range h.violations {
			keys = append(keys, ev.Key)
		}
		if !slices.Equal(keys, []string{"127.0.0.1", "::/64", "127.0.0.2"}) {
			t.Errorf("violation keys %v", keys)
		}
	})
}

// TestForwardedFor: X-Forwarded-For names the client only when a trusted
// proxy sent it.
func TestForwardedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			c.ClientIP = clientip.NewResolver(clientip.MustParsePrefixes("10.0.0.0/8"))
		})
		const proxy = "10.0.0.1:40000"
		h.doN(100, http.StatusOK, "/", proxy, "X-Forwarded-For", "203.0.113.9")
		// Entries left of the client are the client's own invention.
		h.doN(1, http.StatusTooManyRequests, "/", proxy, "X-Forwarded-For", "1.2.3.4, 203.0.113.9")
		if ev := h.violations[0]; ev.IP.String() != "203.0.113.9" || ev.Key != "203.0.113.9" {
			t.Errorf("event IP %v key %q, want the forwarded client", ev.IP, ev.Key)
		}
		// Other clients behind the same proxy have their own budgets.
		wantFields(t, h.doN(1, http.StatusOK, "/", proxy, "X-Forwarded-For", "203.0.113.10"), fields("100", "99", "1", "100;w=60", ""))
		wantFields(t, h.doN(1, http.StatusOK, "/", proxy), fields("100", "99", "1", "100;w=60", ""))

		// An untrusted peer cannot pick its key, nor spend someone else's.
		const spoofer = "198.51.100.7:40000"
		for i := range 100 {
			h.doN(1, http.StatusOK, "/", spoofer, "X-Forwarded-For", "203.0.113."+strconv.Itoa(100+i))
		}
		h.doN(1, http.StatusTooManyRequests, "/", spoofer, "X-Forwarded-For", "203.0.113.250")
		if ev := h.violations[1]; ev.IP.String() != "198.51.100.7" || ev.Key != "198.51.100.7" {
			t.Errorf("spoofer's event IP %v key %q, want its own address", ev.IP, ev.Key)
		}
		wantFields(t, h.doN(1, http.StatusOK, "/", proxy, "X-Forwarded-For", "203.0.113.150"), fields("100", "99", "1", "100;w=60", ""))
	})
}

// TestIPv6Prefix: IPv6 clients are limited and blocked per /64 by default,
// per address with IPv6PrefixLen 128.
func TestIPv6Prefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		for i := range 5 {
			h.doN(1, http.StatusOK, "/login", "[2001:db8:1:2::"+strconv.FormatInt(int64(i+1), 16)+"]:443")
		}
		for i := range 4 {
			h.doN(1, http.StatusTooManyRequests, "/login", "[2001:db8:1:2:"+strconv.Itoa(i+1)+"::1]:443")
		}
		if ev := h.violations[0]; ev.Key != "2001:db8:1:2::/64" || ev.IP.String() != "2001:db8:1:2:1::1" {
			t.Errorf("event key %q IP %v", ev.Key, ev.IP)
		}
		// The fifth violation blocks the whole /64.
		h.doN(1, http.StatusForbidden, "/login", "[2001:db8:1:2:5::1]:443")
		if len(h.blocks) != 1 || h.blocks[0].Key != "2001:db8:1:2::/64" {
			t.Fatalf("blocks %+v", h.blocks)
		}
		h.doN(1, http.StatusForbidden, "/", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:443")
		wantFields(t, h.doN(1, http.StatusOK, "/login", "[2001:db8:1:3::1]:443"), fields("5", "4", "180", "5;w=900", ""))

		p := ratelimit.DefaultPolicy()
		p.IPv6PrefixLen = 128
		h = newHarness(t, p)
		h.doN(5, http.StatusOK, "/login", "[2001:db8:1:2::1]:443")
		h.doN(1, http.StatusTooManyRequests, "/login", "[2001:db8:1:2::1]:443")
		wantFields(t, h.doN(1, http.StatusOK, "/login", "[2001:db8:1:2::2]:443"), fields("5", "4", "180", "5;w=900", ""))
	})
}

// failingLimiter fails Allow for the keys fail selects (all when nil).
type failingLimiter struct {
	ratelimit.Limiter
	err  error
	fail func(key string) bool
}

func (f failingLimiter) Allow(ctx context.Context, key string, limit ratelimit.Limit, now time.Time) (ratelimit.Result, error) {
	if f.fail == nil || f.fail(key) {
		return ratelimit.Result{}, f.err
	}
	return f.Limiter.Allow(ctx, key, limit, now)
}

// faultyBlocker fails the methods named in fail, and runs beforeRecord (as
// another node would act) before RecordViolation.
type faultyBlocker struct {
	ratelimit.Blocker
	err          error
	fail         map[string]bool
	beforeRecord func(key string, now time.Time)
}

func (f faultyBlocker) IsBlocked(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	if f.fail["IsBlocked"] {
		return false, time.Time{}, f.err
	}
	return f.Blocker.IsBlocked(ctx, key, now)
}

func (f faultyBlocker) RecordViolation(ctx context.Context, key string, rule ratelimit.BlockRule, now time.Time) (ratelimit.Violation, error) {
	if f.beforeRecord != nil {
		f.beforeRecord(key, now)
	}
	if f.fail["RecordViolation"] {
		return ratelimit.Violation{}, f.err
	}
	return f.Blocker.RecordViolation(ctx, key, rule, now)
}

func (f faultyBlocker) ResetViolations(ctx context.Context, key string) error {
	if f.fail["ResetViolations"] {
		return f.err
	}
	return f.Blocker.ResetViolations(ctx, key)
}

// TestFailModes: when the backend or the client address fails, auth fails
// closed (503, Retry-After: 5) and the other classes open, by default.
func TestFailModes(t *testing.T) {
	down := errors.New("backend down")
	tests := []struct {
		name      string
		configure func(*ratelimit.Config)
		remote    string
		user      string
		wantErr   error
		// unlimitedErr: whether a ClassUnlimited request meets the failure.
		unlimitedErr bool
	}{
		{
			name:      "limiter",
			configure: func(c *ratelimit.Config) { c.Limiter = failingLimiter{Limiter: c.Limiter, err: down} },
			wantErr:   down,
		},
		{
			name: "user tier",
			configure: func(c *ratelimit.Config) {
				c.Limiter = failingLimiter{Limiter: c.Limiter, err: down, fail: func(k string) bool { return strings.HasPrefix(k, "u|") }}
			},
			user: "42", wantErr: down,
		},
		{
			name: "blocker",
			configure: func(c *ratelimit.Config) {
				c.Blocker = faultyBlocker{Blocker: c.Blocker, err: down, fail: map[string]bool{"IsBlocked": true}}
			},
			wantErr: down, unlimitedErr: true,
		},
		{
			name:    "client address",
			remote:  "@",
			wantErr: clientip.ErrNoClientAddress, unlimitedErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				configure := func(*ratelimit.Config) {}
				if tt.configure != nil {
					configure = tt.configure
				}
				h := newHarness(t, ratelimit.DefaultPolicy(), configure)
				remote := "203.0.113.9:1000"
				if tt.remote != "" {
					remote = tt.remote
				}
				header := []string{"X-Test-User", tt.user}
				for _, path := range []string{"/", "/api/v1/x", "/healthz"} {
					wantFields(t, h.doN(1, http.StatusOK, path, remote, header...), nil)
				}
				w := h.doN(1, http.StatusServiceUnavailable, "/login", remote, header...)
				wantFields(t, w, map[string]string{"Retry-After": "5"})
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control on 503 = %q", got)
				}
				if got := w.Body.String(); got != `{"error":"temporarily unavailable"}`+"\n" {
					t.Errorf("503 body = %q", got)
				}
				wantErrs := 3
				if tt.unlimitedErr {
					wantErrs = 4
				}
				if len(h.errs) != wantErrs || h.served != 3 || len(h.violations) != 0 {
					t.Fatalf("%d errors (want %d), %d served (want 3), %d violations", len(h.errs), wantErrs, h.served, len(h.violations))
				}
				for _, err := range h.errs {
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("OnError got %v, want %v", err, tt.wantErr)
					}
				}

				// A policy may fail closed for every class.
				p := ratelimit.DefaultPolicy()
				p.FailClosed = []ratelimit.Class{ratelimit.ClassGeneral, ratelimit.ClassAPI, ratelimit.ClassAuth}
				h = newHarness(t, p, configure)
				for _, path := range []string{"/", "/api/v1/x", "/login"} {
					wantFields(t, h.doN(1, http.StatusServiceUnavailable, path, remote, header...), map[string]string{"Retry-After": "5"})
				}
			})
		})
	}
}

// TestViolationBookkeepingFailures: a blocker that cannot record or reset
// does not turn a decided response into a failure.
func TestViolationBookkeepingFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := errors.New("backend down")
		h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			c.Blocker = faultyBlocker{Blocker: c.Blocker, err: down, fail: map[string]bool{"RecordViolation": true, "ResetViolations": true}}
		})
		const client = "203.0.113.9:1000"
		h.doN(5, http.StatusOK, "/login", client)
		for range 6 {
			wantFields(t, h.doN(1, http.StatusTooManyRequests, "/login", client), fields("5", "0", "900", "5;w=900", "180"))
		}
		if got := strings.Join(h.log, ","); got != strings.Repeat("error,", 5)+strings.Repeat("error,violation,", 5)+"error,violation" {
			t.Errorf("callbacks %s", got)
		}
		for _, ev := range h.violations {
			if ev.Violations != 0 || !ev.BlockedUntil.IsZero() {
				t.Errorf("event %+v, want no count and no block", ev)
			}
		}
	})
}

// TestBlockedMeanwhile: when another request or node blocks the client
// between the block check and RecordViolation, the answer is the block's 403,
// and no violation or block is reported (this request placed none).
func TestBlockedMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var blockOnRecord bool
		h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			inner := c.Blocker
			c.Blocker = faultyBlocker{Blocker: inner, beforeRecord: func(key string, now time.Time) {
				if blockOnRecord {
					if _, err := inner.Block(context.Background(), key, time.Hour, now); err != nil {
						t.Error(err)
					}
				}
			}}
		})
		const client = "203.0.113.9:1000"
		h.doN(5, http.StatusOK, "/login", client)
		h.doN(1, http.StatusTooManyRequests, "/login", client)
		blockOnRecord = true
		w := h.doN(1, http.StatusForbidden, "/login", client)
		wantFields(t, w, nil)
		if got := strings.Join(h.log, ","); got != "violation" {
			t.Errorf("callbacks %s; want only the first request's violation", got)
		}
	})
}

// TestUserTier: the user tier counts per user id across addresses, only for
// authenticated requests that passed the per-client tiers.
func TestUserTier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		user := []string{"X-Test-User", "42"}
		// Global 99 left, user 299: global is reported.
		wantFields(t, h.doN(1, http.StatusOK, "/", "198.51.100.1:1", user...), fields("100", "99", "1", "100;w=60", ""))
		h.doN(74, http.StatusOK, "/", "198.51.100.1:1", user...)
		h.doN(75, http.StatusOK, "/", "198.51.100.2:1", user...)
		h.doN(75, http.StatusOK, "/", "198.51.100.3:1", user...)
		h.doN(74, http.StatusOK, "/", "198.51.100.4:1", user...)
		// The 300th: global 25 left, user 0; the user tier is reported.
		wantFields(t, h.doN(1, http.StatusOK, "/", "198.51.100.4:1", user...), fields("300", "0", "60", "300;w=60", ""))

		// A fresh address does not help: the user is out of requests.
		w := h.doN(1, http.StatusTooManyRequests, "/api/v1/x", "198.51.100.5:1", user...)
		wantFields(t, w, fields("300", "0", "60", "300;w=60", "1"))
		if len(h.violations) != 1 {
			t.Fatalf("%d violations, want 1", len(h.violations))
		}
		if ev := h.violations[0]; ev.Tier != ratelimit.TierUser || ev.UserID != "42" || ev.Key != "198.51.100.5" ||
			ev.Class != ratelimit.ClassAPI || ev.Violations != 1 || ev.Result.RetryAfter != 200*time.Millisecond {
			t.Errorf("event %+v", ev)
		}
		// Other users and anonymous requests from that address pass.
		wantFields(t, h.doN(1, http.StatusOK, "/", "198.51.100.5:1", "X-Test-User", "43"), fields("100", "98", "2", "100;w=60", ""))
		wantFields(t, h.doN(1, http.StatusOK, "/", "198.51.100.5:1"), fields("100", "97", "2", "100;w=60", ""))
		// One emission interval later the user may send one more.
		time.Sleep(200 * time.Millisecond)
		h.doN(1, http.StatusOK, "/", "198.51.100.6:1", user...)
		h.doN(1, http.StatusTooManyRequests, "/", "198.51.100.6:1", user...)

		// UserID is asked only after the client tiers allowed the request,
		// and never for unlimited routes.
		h.doN(25, http.StatusOK, "/", "198.51.100.1:1")
		calls := h.userCalls
		h.doN(3, http.StatusTooManyRequests, "/", "198.51.100.1:1", user...)
		h.doN(3, http.StatusOK, "/healthz", "198.51.100.7:1", user...)
		if h.userCalls != calls {
			t.Errorf("UserID called %d times for refused or unlimited requests", h.userCalls-calls)
		}
	})
}

// TestUnlimitedClass: unlimited routes are never counted and carry no fields.
func TestUnlimitedClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ratelimit.DefaultPolicy())
		wantFields(t, h.doN(1000, http.StatusOK, "/healthz", "203.0.113.9:1"), nil)
		if n := h.limiter.Len(); n != 0 {
			t.Errorf("unlimited requests created %d limiter keys", n)
		}
	})
}

// TestNoAutomaticBlocking: with a zero BlockRule every refusal is a 429,
// reported with no count; a Blocker, if given, still enforces manual blocks.
func TestNoAutomaticBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.DefaultPolicy()
		p.Block = ratelimit.BlockRule{}
		h := newHarness(t, p, func(c *ratelimit.Config) { c.Blocker = nil })
		const client = "203.0.113.9:1"
		h.doN(5, http.StatusOK, "/login", client)
		h.doN(20, http.StatusTooManyRequests, "/login", client)
		if len(h.violations) != 20 || len(h.blocks) != 0 {
			t.Fatalf("%d violations, %d blocks; want 20, 0", len(h.violations), len(h.blocks))
		}
		for _, ev := range h.violations {
			if ev.Violations != 0 {
				t.Fatalf("event %+v counts violations", ev)
			}
		}

		h = newHarness(t, p)
		h.doN(5, http.StatusOK, "/login", client)
		h.doN(20, http.StatusTooManyRequests, "/login", client)
		if _, err := h.blocker.Block(t.Context(), "203.0.113.9", time.Minute, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.doN(1, http.StatusForbidden, "/", client)
		time.Sleep(time.Minute)
		h.doN(1, http.StatusOK, "/", client)
	})
}

func TestCustomReject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []string
		h := newHarness(t, ratelimit.DefaultPolicy(), func(c *ratelimit.Config) {
			c.Reject = func(w http.ResponseWriter, _ *http.Request, status int) {
				seen = append(seen, strconv.Itoa(status)+" retry="+w.Header().Get("Retry-After")+" cache="+w.Header().Get("Cache-Control"))
				w.WriteHeader(status)
				_, _ = w.Write([]byte("slow down"))
			}
		})
		h.doN(5, http.StatusOK, "/login", "203.0.113.9:1")
		if w := h.doN(1, http.StatusTooManyRequests, "/login", "203.0.113.9:1"); w.Body.String() != "slow down" {
			t.Errorf("body %q", w.Body.String())
		}
		h.doN(3, http.StatusTooManyRequests, "/login", "203.0.113.9:1")
		h.doN(2, http.StatusForbidden, "/login", "203.0.113.9:1")
		want := []string{"429 retry=180 cache=no-store", "429 retry=180 cache=no-store", "429 retry=180 cache=no-store",
			"429 retry=180 cache=no-store", "403 retry= cache=no-store", "403 retry= cache=no-store"}
		if !slices.Equal(seen, want) {
			t.Errorf("Reject saw %q, want %q", seen, want)
		}
	})
}

func TestMiddlewareConfigErrors(t *testing.T) {
	lim := ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{})
	badGlobal := ratelimit.DefaultPolicy()
	badGlobal.Global.Burst = 0
	tests := []struct {
		name string
		cfg  ratelimit.Config
		want string
	}{
		{"no limiter", ratelimit.Config{Policy: ratelimit.DefaultPolicy(), Blocker: ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{})}, "no Limiter"},
		{"no blocker", ratelimit.Config{Policy: ratelimit.DefaultPolicy(), Limiter: lim}, "no Blocker"},
		{"invalid limit", ratelimit.Config{Policy: badGlobal, Limiter: lim, Blocker: ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{})}, "global: invalid rate limit: burst 0"},
		{"invalid prefix", ratelimit.Config{Policy: ratelimit.Policy{IPv6PrefixLen: 129}, Limiter: lim}, "ipv6_prefix_len"},
	}
	for _, tt := range tests {
		mw, err := ratelimit.Middleware(tt.cfg)
		if !errors.Is(err, ratelimit.ErrConfig) || !strings.Contains(err.Error(), tt.want) || mw != nil {
			t.Errorf("%s: Middleware error %v, want ErrConfig mentioning %q", tt.name, err, tt.want)
		}
	}
}
