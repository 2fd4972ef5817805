package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/certs"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/sqlite"
)

// clock is the servers' time in these tests: windows, lockouts and token
// lifetimes advance without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one server over real HTTPS on a loopback port, on an embedded
// store in a temporary directory.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	keys   *auth.Keys
	hasher *auth.Hasher
	clock  *clock
	base   string
	roots  *x509.CertPool
	srv    *server.Server
	audit  *bytes.Buffer
	auditM sync.Mutex
	org    store.Organisation
}

const testPassword = "correct horse battery"

// newEnv starts a server; tune adjusts its options before it starts.
func newEnv(t *testing.T, tune func(*server.Options)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "repairx.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Real time at the start, so that the certificate and the cookies'
	// expiry (judged by the client on its own clock) agree.
	clk := &clock{t: time.Now().Truncate(time.Second)}
	keys, _, err := auth.LoadOrCreateKeys(filepath.Join(dir, "keys.json"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(auth.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, keys: keys, hasher: hasher, clock: clk, audit: &bytes.Buffer{}}
	e.org, err = st.EnsureOrganisation(ctx, "Acme Repairs", clk.Now())
	if err != nil {
		t.Fatal(err)
	}

	certFile, keyFile, _, err := certs.EnsureSelfSigned(filepath.Join(dir, "tls"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reloader, err := certs.NewReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	e.roots = x509.NewCertPool()
	if !e.roots.AppendCertsFromPEM(pemBytes) {
		block, _ := pem.Decode(pemBytes)
		t.Fatalf("could not add the certificate %v", block != nil)
	}

	settings := server.DefaultSettings()
	settings.CertNotAfter = func() time.Time { return reloader.Current().Leaf.NotAfter }
	settings.Business = []string{"admin", "certificate"}
	opts := server.Options{
		Store:    st,
		Keys:     auth.NewStaticKeys(keys),
		Hasher:   hasher,
		Limiter:  ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{}),
		Blocker:  ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{}),
		Revoked:  revoke.NewMemory(),
		Audit:    audit.NewRecorder(nil, st, &audit.WriterSink{W: lockedWriter{&e.auditM, e.audit}}),
		Now:      clk.Now,
		Settings: settings,
	}
	if tune != nil {
		tune(&opts)
	}
	e.srv, err = server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- e.srv.Serve(sctx, server.Listeners{Main: ln, TLS: certs.ServerTLSConfig(reloader)},
			server.Timeouts{ReadHeader: 5 * time.Second, Read: time.Minute, Write: time.Minute, Idle: time.Minute, Shutdown: 5 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	e.base = "https://" + ln.Addr().String()
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// auditLines returns the audit events written to the JSON-lines sink.
func (e *env) auditLines() []audit.Event {
	e.auditM.Lock()
	defer e.auditM.Unlock()
	var out []audit.Event
	for _, line := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			e.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// auditCount counts events with action and result.
func (e *env) auditCount(action, result string) int {
	n := 0
	for _, ev := range e.auditLines() {
		if ev.Action == action && (result == "" || ev.Result == result) {
			n++
		}
	}
	return n
}

func (e *env) createUser(email string, role store.Role) store.User {
	e.t.Helper()
	h, err := e.hasher.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.store.CreateUser(context.Background(), store.User{
		OrgID: e.org.ID, Email: email, PasswordHash: h, Role: role, CreatedAt: e.clock.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// client is one browser or API client: its own cookie jar and connection.
type client struct {
	e      *env
	hc     *http.Client
	jar    *cookiejar.Jar
	header http.Header // sent with every request
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS13}}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &client{e: e, jar: jar, header: http.Header{}, hc: &http.Client{
		Transport: tr, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body []byte
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.StatusCode, r.body, err)
	}
	return m
}

func (c *client) do(method, path string, body any, hdr ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.e.base+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return response{Response: resp, body: data}
}

func (c *client) post(path string, body any, hdr ...string) response {
	c.e.t.Helper()
	return c.do(http.MethodPost, path, body, hdr...)
}

func (c *client) get(path string, hdr ...string) response {
	c.e.t.Helper()
	return c.do(http.MethodGet, path, nil, hdr...)
}

func (c *client) login(email, password string, extra ...string) response {
	c.e.t.Helper()
	body := map[string]string{"email": email, "password": password}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return c.post("/api/v1/auth/login", body)
}

// cookie returns the jar's cookie for path, or "".
func (c *client) cookie(path, name string) string {
	u, _ := http.NewRequest(http.MethodGet, c.e.base+path, nil)
	for _, ck := range c.jar.Cookies(u.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

func wantCode(t *testing.T, r response, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	if got := r.json(t)["code"]; got != code {
		t.Fatalf("%s %s: code %v, want %q; body %s", r.Request.Method, r.Request.URL.Path, got, code, r.body)
	}
}
