package server_test

import (
	"crypto/tls"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/store"
)

func TestAuthTierLimitsAndBlocks(t *testing.T) {
	e := newEnv(t, nil) // default policy, empty allow-list: loopback is limited
	c := e.client()
	for i := range 5 {
		r := c.login("nobody@example.test", "wrong password!")
		if r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited already", i+1)
		}
		if got := r.Header.Get("RateLimit-Remaining"); got != strconv.Itoa(4-i) {
			t.Errorf("attempt %d: RateLimit-Remaining %q, want %d", i+1, got, 4-i)
		}
	}
	r := c.login("nobody@example.test", "wrong password!")
	wantCode(t, r, http.StatusTooManyRequests, "rate_limited")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 180 {
		t.Errorf("Retry-After %q: want the seconds until one more request (3 min per request)", r.Header.Get("Retry-After"))
	}
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("429 without %s", h)
		}
	}
	if got := r.Header.Get("RateLimit-Policy"); got != "5;w=900" {
		t.Errorf("RateLimit-Policy %q, want 5;w=900", got)
	}
	// Other API routes are still open to this client (their own tier), and
	// an allowed request starts the count of consecutive violations again.
	wantStatus(t, c.get("/api/v1/me"), http.StatusUnauthorized)

	// Five consecutive violations block the address for an hour: 403
	// everywhere, probes included.
	for range 4 {
		wantStatus(t, c.login("nobody@example.test", "x"), http.StatusTooManyRequests)
	}
	wantCode(t, c.login("nobody@example.test", "x"), http.StatusForbidden, "blocked")
	wantCode(t, c.get("/api/v1/me"), http.StatusForbidden, "blocked")
	wantCode(t, c.get("/api/health/live"), http.StatusForbidden, "blocked")
	if n := e.auditCount(audit.ActionIPBlock, audit.ResultBlocked); n != 1 {
		t.Errorf("%d IP block events, want 1", n)
	}
	e.clock.Advance(59 * time.Minute)
	wantStatus(t, c.get("/api/health/live"), http.StatusForbidden)
	e.clock.Advance(2 * time.Minute)
	wantStatus(t, c.get("/api/health/live"), http.StatusOK)
}

func TestAPITierAndAllowList(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Policy.API = ratelimit.PerMinute(3)
		o.Policy.Block = ratelimit.BlockRule{} // no blocking in this test
	})
	c := e.client()
	for range 3 {
		wantStatus(t, c.get("/api/v1/me"), http.StatusUnauthorized)
	}
	wantStatus(t, c.get("/api/v1/me"), http.StatusTooManyRequests)
	// Probes are not limited.
	wantStatus(t, c.get("/api/health/live"), http.StatusOK)
	e.clock.Advance(20 * time.Second)
	wantStatus(t, c.get("/api/v1/me"), http.StatusUnauthorized)

	allowed := newEnv(t, func(o *server.Options) {
		o.Policy.API = ratelimit.PerMinute(3)
		o.AllowList = clientip.MustParsePrefixes("127.0.0.1/32")
	})
	ac := allowed.client()
	for range 10 {
		r := ac.get("/api/v1/me")
		wantStatus(t, r, http.StatusUnauthorized)
		if r.Header.Get("RateLimit-Limit") != "" {
			t.Fatal("allow-listed response carries RateLimit fields")
		}
	}
}

func TestUserTier(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Policy.User = ratelimit.PerMinute(2)
		o.Policy.Block = ratelimit.BlockRule{}
	})
	e.createUser("busy@example.test", store.RoleCustomer)
	c := e.client()
	wantStatus(t, c.login("busy@example.test", testPassword), http.StatusOK)
	tok := c.cookie("/", accessCookie)
	// The same user from two clients shares one budget (the login itself
	// was anonymous, so the user has 2 requests).
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)
	wantStatus(t, e.client().get("/api/v1/me", "Authorization", "Bearer "+tok), http.StatusOK)
	wantStatus(t, e.client().get("/api/v1/me", "Authorization", "Bearer "+tok), http.StatusTooManyRequests)
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	tune := func(trusted string) func(*server.Options) {
		return func(o *server.Options) {
			o.Policy.API = ratelimit.PerMinute(2)
			o.Policy.Block = ratelimit.BlockRule{}
			if trusted != "" {
				o.TrustedProxies = clientip.MustParsePrefixes(trusted)
			}
		}
	}
	// Behind a trusted proxy each forwarded client has its own budget.
	e := newEnv(t, tune("127.0.0.1/32"))
	c := e.client()
	for i := range 6 {
		ip := "203.0.113." + strconv.Itoa(i%3+1)
		r := c.get("/api/v1/me", "X-Forwarded-For", ip)
		wantStatus(t, r, http.StatusUnauthorized)
	}
	wantStatus(t, c.get("/api/v1/me", "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests)

	// From an untrusted peer the header is ignored: rotating it buys nothing.
	u := newEnv(t, tune(""))
	uc := u.client()
	wantStatus(t, uc.get("/api/v1/me", "X-Forwarded-For", "198.51.100.1"), http.StatusUnauthorized)
	wantStatus(t, uc.get("/api/v1/me", "X-Forwarded-For", "198.51.100.2"), http.StatusUnauthorized)
	wantStatus(t, uc.get("/api/v1/me", "X-Forwarded-For", "198.51.100.3"), http.StatusTooManyRequests)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Policy.API = ratelimit.PerMinute(1) })
	c := e.client()
	var rs []response
	rs = append(rs, c.get("/api/health/live"), c.get("/nope"), c.get("/api/v1/me"), c.get("/api/v1/me"),
		c.post("/api/v1/auth/login", "{"))
	want := map[string]string{
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
	}
	codes := map[int]bool{}
	for _, r := range rs {
		codes[r.StatusCode] = true
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%d %s: %s = %q, want %q", r.StatusCode, r.Request.URL.Path, k, got, v)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%d: CSP %q", r.StatusCode, csp)
		}
		if r.Header.Get("Server") != "" || r.Header.Get("X-Powered-By") != "" {
			t.Errorf("%d: Server/X-Powered-By set", r.StatusCode)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("%d: no X-Request-Id", r.StatusCode)
		}
	}
	for _, s := range []int{200, 404, 401, 429, 400} {
		if !codes[s] {
			t.Errorf("no %d response among the checked ones: %v", s, codes)
		}
	}
}

func TestCORSAndCSRF(t *testing.T) {
	const app = "https://app.repairx.test"
	e := newEnv(t, func(o *server.Options) {
		relaxed(o)
		o.CORSOrigins = []string{app}
	})
	e.createUser("a@example.test", store.RoleCustomer)
	c := e.client()

	r := c.do(http.MethodOptions, "/api/v1/auth/login", nil, "Origin", app, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type")
	wantStatus(t, r, http.StatusNoContent)
	if r.Header.Get("Access-Control-Allow-Origin") != app || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight headers %v", r.Header)
	}
	r = c.do(http.MethodOptions, "/api/v1/auth/login", nil, "Origin", "https://evil.test", "Access-Control-Request-Method", "POST")
	wantStatus(t, r, http.StatusForbidden)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a foreign origin got Access-Control-Allow-Origin")
	}

	// The app's origin may log in with cookies; a cross-site form may not
	// use them to log out (or anything else that changes state).
	wantStatus(t, c.post("/api/v1/auth/login", map[string]string{"email": "a@example.test", "password": testPassword},
		"Origin", app, "Sec-Fetch-Site", "cross-site"), http.StatusOK)
	wantCode(t, c.post("/api/v1/auth/logout", nil, "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"),
		http.StatusForbidden, "cross_origin")
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)
	wantStatus(t, c.post("/api/v1/auth/logout", nil, "Origin", app, "Sec-Fetch-Site", "same-site"), http.StatusNoContent)
}

func TestTLS13Only(t *testing.T) {
	e := newEnv(t, relaxed)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots, MaxVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get(e.base + "/api/health/live"); err == nil {
		t.Fatal("a TLS 1.2 client connected")
	}
	r := e.client().get("/api/health/live")
	wantStatus(t, r, http.StatusOK)
	if r.TLS == nil || r.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("negotiated %v", r.TLS)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, relaxed)
	c := e.client()
	wantStatus(t, c.get("/api/health/live"), http.StatusOK)
	r := c.get("/api/health/ready")
	wantStatus(t, r, http.StatusOK)
	if r.json(t)["status"] != "ok" {
		t.Errorf("ready %s", r.body)
	}
	// No admin yet: the business check fails and, to loopback, says how to fix it.
	r = c.get("/api/health/business")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.body), "user create") {
		t.Errorf("business %s", r.body)
	}
	e.createUser("owner@example.test", store.RoleOwner)
	wantStatus(t, c.get("/api/health/business"), http.StatusOK)

	c.login("owner@example.test", "wrong password!")
	r = c.get("/api/metrics")
	wantStatus(t, r, http.StatusOK)
	for _, m := range []string{
		`repairx_auth_logins_total{result="invalid_credentials"} 1`,
		`repairx_http_requests_total{code="200",method="GET",route="GET /api/health/live"} 1`,
		"repairx_http_request_duration_seconds_bucket",
		"repairx_ratelimit_blocked_ips",
	} {
		if !strings.Contains(string(r.body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// TestMetricsBehindAProxy: through a trusted proxy, only forwarded clients
// in the scrape networks see metrics and health details; a request the
// proxy forwarded without naming the client does not pass for loopback.
func TestMetricsBehindAProxy(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		relaxed(o)
		o.TrustedProxies = clientip.MustParsePrefixes("127.0.0.1/32")
		o.MetricsNetworks = clientip.MustParsePrefixes("10.9.0.0/16")
	})
	c := e.client()
	wantStatus(t, c.get("/api/metrics"), http.StatusNotFound)
	wantStatus(t, c.get("/api/metrics", "X-Forwarded-For", "192.0.2.7"), http.StatusNotFound)
	wantStatus(t, c.get("/api/metrics", "X-Forwarded-For", "10.9.1.2"), http.StatusOK)
	r := c.get("/api/health/business", "X-Forwarded-For", "192.0.2.7")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if strings.Contains(string(r.body), "user create") {
		t.Errorf("the public sees check details: %s", r.body)
	}
	// Probes are unlimited for GET only; a POST with a body is an ordinary
	// request and its body is not screened (no route takes one).
	wantCode(t, c.post("/api/health/live", map[string]string{"q": "' OR 1=1--"}), http.StatusNotFound, "not_found")
}
