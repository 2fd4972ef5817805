package commands

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/certs"
	"github.com/repairx/repairxctl/internal/testenv"
	"github.com/repairx/repairxctl/internal/ui"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs `repairxctl serve` in this process until the returned
// stop is called; stop returns the exit code.
func startServe(t *testing.T, args ...string) (stderr *testenv.Buffer, stop func() int) {
	t.Helper()
	ios, _, _, _ := ui.Test()
	errOut := &testenv.Buffer{}
	ios.ErrOut = errOut
	f := NewFactory(ios)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{"serve"}, args...), f) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Error("serve did not stop within a minute of its context ending")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return errOut, stop
}

// httpsClient trusts the self-signed certificate in dataDir.
func httpsClient(t *testing.T, dataDir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, "tls", certs.CertFileName))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// waitLive polls until the server answers its liveness probe.
func waitLive(t *testing.T, base string, stderr *testenv.Buffer, dataDir string) *http.Client {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dataDir, "tls", certs.CertFileName)); err == nil {
			c := httpsClient(t, dataDir)
			if resp, err := c.Get(base + "/api/health/live"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return c
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not come up; stderr:\n%s", stderr.String())
	return nil
}

func TestServeEndToEnd(t *testing.T) {
	dir := isolate(t)
	dataDir := filepath.Join(dir, "data-dir")
	addr, redirect, metrics := freePort(t), freePort(t), freePort(t)
	auditFile := filepath.Join(dir, "audit.jsonl")
	base := "https://" + addr
	stderr, stop := startServe(t, "--data-dir", dataDir, "--listen", addr, "--redirect-listen", redirect,
		"--metrics-listen", metrics, "--audit-file", auditFile)
	c := waitLive(t, base, stderr, dataDir)

	// The plain listener only redirects; the metrics listener only serves metrics.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Get("http://" + redirect + "/api/v1/me?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != base+"/api/v1/me?x=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]int{"/api/metrics": 200, "/api/v1/me": 404} {
		resp, err := plain.Get("http://" + metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("metrics listener %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// The banner: address, data directory, fingerprint, the first-user hint.
	banner := stderr.String()
	fp, err := certs.FileFingerprint(filepath.Join(dataDir, "tls", certs.CertFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listening on " + base, "data directory: " + dataDir, "certificate: " + fp,
		"repairxctl user create --data-dir " + dataDir} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	for _, f := range []string{"repairx.db", "keys.json", "tls/tls.key"} {
		fi, err := os.Stat(filepath.Join(dataDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi)
		}
	}

	// The operator creates the first user beside the running server, as
	// the banner says, and signs in.
	ios, in, _, errOut := ui.Test()
	in.WriteString("a password long enough\n")
	if code := Run(context.Background(), strings.Fields("user create --data-dir "+dataDir+" --email boss@example.test --role manager --password-stdin"), NewFactory(ios)); code != 0 {
		t.Fatalf("user create exit %d: %s", code, errOut)
	}
	resp, err = c.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"boss@example.test","password":"a password long enough"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || login.AccessToken == "" {
		t.Fatalf("login: %d; stderr:\n%s", resp.StatusCode, stderr.String())
	}

	// The audit file got the login as a JSON line.
	if data, err := os.ReadFile(auditFile); err != nil || !strings.Contains(string(data), `"action":"auth.login","resource":"user:`) {
		t.Errorf("audit file: %v %s", err, data)
	}

	// Graceful shutdown: a request in flight when the signal comes is
	// answered. A login spends a bcrypt comparison (cost 12), long enough
	// to be caught in flight.
	slow := make(chan int, 1)
	go func() {
		resp, err := c.Post(base+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"email":"boss@example.test","password":"a password long enough"}`))
		if err != nil {
			slow <- -1
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	waitInFlight(t, c, base, 2)
	if code := stop(); code != 0 {
		t.Fatalf("serve exit %d after SIGTERM-like cancel; stderr:\n%s", code, stderr.String())
	}
	if got := <-slow; got != http.StatusOK {
		t.Errorf("in-flight login answered %d, want 200", got)
	}

	// Logs are JSON lines with request ids and no secrets.
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"request_id":"`) {
		t.Errorf("no JSON request log lines:\n%s", logs)
	}
	for _, secret := range []string{"a password long enough", login.AccessToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret %.12q…", secret)
		}
	}
}

var inFlightRE = regexp.MustCompile(`(?m)^repairx_http_requests_in_flight (\d+)`)

// waitInFlight polls the metrics until n requests are in flight (the
// metrics request itself included).
func waitInFlight(t *testing.T, c *http.Client, base string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(base + "/api/metrics")
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if m := inFlightRE.FindStringSubmatch(b.String()); m != nil {
				if got, _ := strconv.Atoi(m[1]); got >= n {
					return
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the slow request never showed up in flight")
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	isolate(t)
	r := runCmd(t, false, "serve --insecure-plain-http --listen 127.0.0.1:0")
	if r.code != 2 || !strings.Contains(r.errOut, "server.trusted_proxies") {
		t.Fatalf("plain HTTP without a trusted proxy: exit %d, stderr %q", r.code, r.errOut)
	}
	r = runCmd(t, false, "serve --insecure-plain-http --listen 0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.errOut, "server.insecure_plain_http") || !strings.Contains(r.errOut, "loopback") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	r = runCmd(t, false, "serve --listen nonsense")
	if r.code != 2 || !strings.Contains(r.errOut, "server.listen") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
}

func TestServeAddressTaken(t *testing.T) {
	dir := isolate(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := runCmd(t, false, "serve --data-dir "+filepath.Join(dir, "d")+" --listen "+l.Addr().String())
	if r.code != 1 || !strings.Contains(r.errOut, "listening on "+l.Addr().String()) {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
}

func TestServePlainHTTPOnLoopbackWarns(t *testing.T) {
	dir := isolate(t)
	dataDir := filepath.Join(dir, "d")
	addr := freePort(t)
	t.Setenv("REPAIRX_SERVER_TRUSTED_PROXIES", "127.0.0.1/32")
	stderr, stop := startServe(t, "--data-dir", dataDir, "--listen", addr, "--insecure-plain-http")
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/health/live")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain serve did not come up: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "WARNING: plain HTTP") {
		t.Errorf("no warning:\n%s", stderr.String())
	}
}

// TestServeRestoresRevocationsAtStart: on one node without Redis, a session
// logged out before a restart stays logged out after it, although its
// access token has not expired (serve rebuilds the in-memory revocation
// list from the store at start-up).
func TestServeRestoresRevocationsAtStart(t *testing.T) {
	dir := isolate(t)
	dataDir := filepath.Join(dir, "data-dir")
	ios, in, _, errOut := ui.Test()
	in.WriteString("a password long enough\n")
	if code := Run(context.Background(), strings.Fields("user create --data-dir "+dataDir+" --email m@example.test --role manager --password-stdin"), NewFactory(ios)); code != 0 {
		t.Fatalf("user create exit %d: %s", code, errOut)
	}
	addr := freePort(t)
	base := "https://" + addr
	me := func(c *http.Client, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	stderr, stop := startServe(t, "--data-dir", dataDir, "--listen", addr)
	c := waitLive(t, base, stderr, dataDir)
	var tokens [2]string // the first is logged out, the second not
	for i := range tokens {
		resp, err := c.Post(base+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"email":"m@example.test","password":"a password long enough"}`))
		if err != nil {
			t.Fatal(err)
		}
		var login struct {
			AccessToken string `json:"accessToken"`
		}
		json.NewDecoder(resp.Body).Decode(&login)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || login.AccessToken == "" {
			t.Fatalf("login %d: %d; stderr:\n%s", i, resp.StatusCode, stderr.String())
		}
		tokens[i] = login.AccessToken
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[0])
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if got := me(c, tokens[0]); got != http.StatusUnauthorized {
		t.Fatalf("the logged-out token before the restart: %d, want 401", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exit %d; stderr:\n%s", code, stderr.String())
	}

	stderr, _ = startServe(t, "--data-dir", dataDir, "--listen", addr)
	c = waitLive(t, base, stderr, dataDir)
	if got := me(c, tokens[0]); got != http.StatusUnauthorized {
		t.Errorf("the token logged out before the restart: %d after it, want 401", got)
	}
	if got := me(c, tokens[1]); got != http.StatusOK {
		t.Errorf("the token still signed in: %d after the restart, want 200", got)
	}
}
