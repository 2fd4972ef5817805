package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/testenv"
)

// cutProxy forwards TCP connections to a real server until it is cut: then
// it drops every open connection and closes new ones at once, as a Redis
// restart or a network partition does, until it is mended.
type cutProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.dropAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.cut.Load() {
				c.Close()
				continue
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *cutProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (p *cutProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) setCut(cut bool) {
	p.cut.Store(cut)
	if cut {
		p.dropAll()
	}
}

// TestRedisOutage runs serve on PostgreSQL and a Redis reached through a
// proxy, then cuts Redis off: the node stays up, readiness turns 503, the
// auth routes fail closed (503 with Retry-After, the documented default),
// an authenticated API call still answers, and the backend errors are
// counted. When Redis is back, so is everything else, without a restart.
func TestRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a server")
	}
	pg := testenv.Postgres(t)
	rd := testenv.Redis(t)
	dbURL := pg.NewDatabase(t)
	redisURL := rd.URL(rd.NewDB(t))
	i := strings.Index(redisURL, "127.0.0.1:")
	if i < 0 {
		t.Fatalf("unexpected Redis URL %s", redisURL)
	}
	hostPort := redisURL[i:]
	if j := strings.IndexByte(hostPort, '/'); j >= 0 {
		hostPort = hostPort[:j]
	}
	proxy := newCutProxy(t, hostPort)
	proxiedURL := strings.Replace(redisURL, hostPort, proxy.ln.Addr().String(), 1)

	home := t.TempDir()
	base := append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"REPAIRX_AUTH_KEY_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"REPAIRX_AUTH_BCRYPT_COST=10",
	)
	env := append(slices.Clip(base), "REPAIRX_DATABASE_URL="+dbURL, "REPAIRX_REDIS_URL="+proxiedURL)
	// The user is created with --database-url (nothing in its environment
	// names the database), the node with REPAIRX_DATABASE_URL: one store.
	cmd := exec.Command(binary(t), "user", "create", "--database-url", dbURL, "--email", "m@example.test", "--role", "manager", "--password-stdin")
	cmd.Env = base
	cmd.Stdin = strings.NewReader("a password long enough\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	pool := x509.NewCertPool()
	n := startNode(t, "a", env, pool)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	const login = `{"email":"m@example.test","password":"a password long enough"}`

	r := call(t, c, "POST", n.base+"/api/v1/auth/login", login)
	if r.status != 200 {
		t.Fatalf("login with Redis up: %d %v", r.status, r.body)
	}
	tok := r.body["accessToken"].(string)
	before := backendErrors(t, c, n.base)

	proxy.setCut(true)
	if r := call(t, c, "GET", n.base+"/api/health/ready", ""); r.status != 503 {
		t.Errorf("ready with Redis cut off: %d %v, want 503", r.status, r.body)
	}
	resp, err := c.Post(n.base+"/api/v1/auth/login", "application/json", strings.NewReader(login))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("login with Redis cut off: %d, Retry-After %q; want 503 with Retry-After (fail closed)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Counted before /me, whose revocation check counts its own failure:
	// this is the rate limiter's failure on the refused login alone.
	afterLogin := backendErrors(t, c, n.base)
	if afterLogin <= before {
		t.Errorf("repairx_ratelimit_backend_errors_total went from %v to %v on a login refused for the outage", before, afterLogin)
	}
	if r := call(t, c, "GET", n.base+"/api/v1/me", "", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Errorf("/me with Redis cut off: %d %v, want 200 (the api class fails open by default)", r.status, r.body)
	}
	if after := backendErrors(t, c, n.base); after <= afterLogin {
		t.Errorf("repairx_ratelimit_backend_errors_total went from %v to %v on /me during the outage", afterLogin, after)
	}
	// The node stays up: liveness still answers while readiness says 503.
	// (Signal 0 cannot tell: it succeeds on a serve that has exited and is
	// not yet reaped, which it is not until the test's cleanup.)
	if resp, err := c.Get(n.base + "/api/health/live"); err != nil {
		n.mu.Lock()
		defer n.mu.Unlock()
		t.Fatalf("serve died during the Redis outage: %v\n%s", err, n.log.String())
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("live with Redis cut off: %d, want 200 (only readiness depends on Redis)", resp.StatusCode)
		}
	}

	proxy.setCut(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := call(t, c, "POST", n.base+"/api/v1/auth/login", login)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login after Redis came back: %d %v", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := call(t, c, "GET", n.base+"/api/health/ready", ""); r.status != 200 {
		t.Errorf("ready after Redis came back: %d %v", r.status, r.body)
	}
}

var backendErrorsRE = regexp.MustCompile(`(?m)^repairx_ratelimit_backend_errors_total(?:\{[^}]*\})? (\S+)$`)

// backendErrors sums repairx_ratelimit_backend_errors_total from the
// metrics endpoint (served to loopback).
func backendErrors(t *testing.T, c *http.Client, base string) float64 {
	t.Helper()
	resp, err := c.Get(base + "/api/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d %s", resp.StatusCode, b)
	}
	var sum float64
	found := false
	for _, m := range backendErrorsRE.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
		found = true
	}
	if !found && strings.Contains(string(b), "repairx_") {
		// A counter vector with no observation yet has no sample: zero.
		return 0
	}
	return sum
}
