package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds repairxctl once for the tests that run it as a process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "repairxctl-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "repairxctl")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// node is one `repairxctl serve` process.
type node struct {
	name string
	base string
	cmd  *exec.Cmd
	log  *strings.Builder
	mu   *sync.Mutex
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startNode(t *testing.T, name string, env []string, pool *x509.CertPool) *node {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), name)
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "serve", "--data-dir", dataDir, "--listen", addr)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, base: "https://" + addr, cmd: cmd, log: &strings.Builder{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.mu.Lock()
			n.log.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node %s exited with %v after SIGTERM", name, err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("node %s did not stop within 30 s of SIGTERM", name)
		}
	})
	// Wait for its certificate, trust it, then for the liveness probe.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if pemBytes, err := os.ReadFile(filepath.Join(dataDir, "tls", "tls.crt")); err == nil && pool.AppendCertsFromPEM(pemBytes) {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err := c.Get(n.base + "/api/health/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return n
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	t.Fatalf("node %s did not become ready:\n%s", name, n.log.String())
	return nil
}

type reply struct {
	status int
	body   map[string]any
}

func call(t *testing.T, c *http.Client, method, url, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &m)
	return reply{resp.StatusCode, m}
}

// TestTwoNodesShareLimitsBlocksLockoutsAndRevocations runs two serve
// processes on one PostgreSQL database and one Redis, as several nodes
// behind NGINX do, and shows that a client meets one rate limit, one
// lockout, one block list, one key ring and one revocation list whichever
// node answers.
func TestTwoNodesShareLimitsBlocksLockoutsAndRevocations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	pg := testenv.Postgres(t)
	rd := testenv.Redis(t)
	dbURL := pg.NewDatabase(t)
	redisURL := rd.URL(rd.NewDB(t))
	kek := make([]byte, 32)
	rand.Read(kek)
	home := t.TempDir()
	env := append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"REPAIRX_DATABASE_URL="+dbURL,
		"REPAIRX_REDIS_URL="+redisURL,
		"REPAIRX_AUTH_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(kek),
		"REPAIRX_AUTH_BCRYPT_COST=10",
		"REPAIRX_RATELIMIT_AUTH=10/15m",
	)

	for _, email := range []string{"one@example.test", "two@example.test"} {
		cmd := exec.Command(binary(t), "user", "create", "--email", email, "--role", "manager", "--password-stdin")
		cmd.Env = env
		cmd.Stdin = strings.NewReader("a password long enough\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user create: %v\n%s", err, out)
		}
	}

	pool := x509.NewCertPool()
	a := startNode(t, "a", env, pool)
	b := startNode(t, "b", env, pool)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Jar: jar}
	const good = `{"email":"two@example.test","password":"a password long enough"}`

	// One key ring and one revocation list: a token from A works on B, and
	// a logout on A ends it on B at once.
	r := call(t, c, "POST", a.base+"/api/v1/auth/login", good) // auth budget 1/10
	if r.status != 200 {
		t.Fatalf("login on A: %d %v", r.status, r.body)
	}
	tok := r.body["accessToken"].(string)
	plain := &http.Client{Transport: tr}
	if r := call(t, plain, "GET", b.base+"/api/v1/me", "", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("A's token on B: %d %v", r.status, r.body)
	}
	// One refresh-token family: rotate on A, replay the spent token on B.
	spent := refreshCookie(t, jar, a.base)
	if r := call(t, c, "POST", a.base+"/api/v1/auth/refresh", ""); r.status != 200 { // 2/10
		t.Fatalf("refresh on A: %d %v", r.status, r.body)
	}
	replay := &http.Client{Transport: tr}
	if r := call(t, replay, "POST", b.base+"/api/v1/auth/refresh", "", "Cookie", "__Secure-repairx_refresh="+spent); r.status != 401 { // 3/10
		t.Fatalf("replayed refresh token on B: %d %v", r.status, r.body)
	}
	// The reuse revoked the whole session on both nodes.
	if r := call(t, c, "POST", a.base+"/api/v1/auth/refresh", ""); r.status != 401 { // 4/10
		t.Fatalf("refresh after reuse on A: %d, want 401", r.status)
	}
	if r := call(t, plain, "GET", a.base+"/api/v1/me", "", "Authorization", "Bearer "+tok); r.status != 401 {
		t.Fatalf("token of the revoked session on A: %d, want 401", r.status)
	}

	// One lockout: five failures spread over both nodes lock the account
	// for both.
	bad := `{"email":"one@example.test","password":"wrong password!"}`
	for i, n := range []*node{a, b, a, b, a} { // 5..9/10
		if r := call(t, plain, "POST", n.base+"/api/v1/auth/login", bad); r.status != 401 {
			t.Fatalf("failure %d on %s: %d %v", i+1, n.name, r.status, r.body)
		}
	}
	right := `{"email":"one@example.test","password":"a password long enough"}`
	if r := call(t, plain, "POST", b.base+"/api/v1/auth/login", right); r.status != 423 { // 10/10
		t.Fatalf("right password on B after five failures: %d %v, want 423", r.status, r.body)
	}

	// One limit and one block list: the budget of 10 is spent across both
	// nodes; five violations, alternating, block the address everywhere.
	for i, n := range []*node{a, b, a, b} {
		if r := call(t, plain, "POST", n.base+"/api/v1/auth/login", right); r.status != 429 {
			t.Fatalf("violation %d on %s: %d %v, want 429", i+1, n.name, r.status, r.body)
		}
	}
	if r := call(t, plain, "POST", a.base+"/api/v1/auth/login", right); r.status != 403 {
		t.Fatalf("fifth violation on A: %d %v, want 403", r.status, r.body)
	}
	if r := call(t, plain, "GET", b.base+"/api/health/live", ""); r.status != 403 {
		t.Fatalf("blocked address on B: %d, want 403", r.status)
	}
}

func refreshCookie(t *testing.T, jar http.CookieJar, base string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", base+"/api/v1/auth/refresh", nil)
	for _, ck := range jar.Cookies(req.URL) {
		if ck.Name == "__Secure-repairx_refresh" {
			return ck.Value
		}
	}
	t.Fatal("no refresh cookie")
	return ""
}
