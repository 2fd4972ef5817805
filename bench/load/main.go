// Command load is the load generator behind bench/load.sh, and the bare
// net/http server it compares `repairxctl serve` with.
//
//	load run  -url URL [-c 32] [-d 15s] [-warmup 2s] [-n N] [-xff N] [-login-email E] [-expect 2xx]
//	load bare -listen 127.0.0.1:PORT -cert FILE -key FILE
//
// `run` sends GET requests from -c workers over HTTP/1.1 keep-alive
// connections (TLS 1.3; the certificate is not verified, since serve's is
// self-signed), first for -warmup (not recorded: connections and TLS
// handshakes, the server's caches), then for -d, or until -n requests when
// -n is set. It records every request's latency and prints one JSON object
// (Result) on stdout. Responses with another status than -expect and
// transport errors are counted and reported; any of them makes the run
// unclean ("clean": false) and the exit status 3.
//
// -xff N sends an X-Forwarded-For address per request, cycling through N
// distinct IPv4 addresses counted up from -xff-base (a flood from N clients
// through a trusted proxy). They are only header values: every request goes
// to -url. -login-email signs in first (POST /api/v1/auth/login, password
// from $LOAD_PASSWORD, never a flag) and sends the access token as
// Authorization: Bearer.
//
// `bare` serves {"status":"ok"} on every path with the TLS configuration of
// serve (internal/server/certs: TLS 1.3, the same certificate, key
// exchanges and ALPN) and serve's HTTP timeouts, so that a comparison with
// serve differs only by the middleware chain and the handlers. It runs
// until SIGINT or SIGTERM.
//
// Exit status: 0 clean run; 1 failure (no connection, the login failed);
// 2 usage; 3 the run had errors.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/repairx/repairxctl/internal/server/certs"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitErrors  = 3
	userAgent   = "repairx-bench-load/1"
	passwordEnv = "LOAD_PASSWORD"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: load run -url URL [flags] | load bare -listen ADDR -cert FILE -key FILE (load run -h)")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "bare":
		return runBare(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "load: unknown command %q: run or bare\n", args[0])
		return exitUsage
	}
}

// loadOptions are the flags of `load run`.
type loadOptions struct {
	url         string
	label       string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	requests    int
	xff         int
	xffBase     netip.Addr
	loginEmail  string
	expect      Expect
	timeout     time.Duration
}

func parseLoad(args []string, stderr io.Writer) (*loadOptions, error) {
	o := &loadOptions{}
	fs := flag.NewFlagSet("load run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "`URL` to GET (required)")
	fs.StringVar(&o.label, "label", "", "label copied into the result")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent workers, one keep-alive connection each")
	fs.DurationVar(&o.duration, "d", 15*time.Second, "measured duration (with -n: the longest the run may take)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded warm-up before the measurement")
	fs.IntVar(&o.requests, "n", 0, "stop after this many measured requests instead of after -d")
	fs.IntVar(&o.xff, "xff", 0, "send X-Forwarded-For with this many distinct addresses, one per request in turn")
	base := fs.String("xff-base", "10.0.0.0", "first X-Forwarded-For address (IPv4; header value only, never contacted)")
	fs.StringVar(&o.loginEmail, "login-email", "", "sign in as this user first (password from $"+passwordEnv+") and send the token as Bearer")
	expect := fs.String("expect", "2xx", "statuses that count as success: 2xx, or codes such as 200,204")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout (a timeout counts as an error)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("-url %q: want an http(s) URL", o.url))
	}
	if o.concurrency < 1 || o.duration <= 0 || o.warmup < 0 || o.requests < 0 || o.xff < 0 || o.timeout <= 0 {
		errs = append(errs, errors.New("-c, -d and -timeout must be positive; -warmup, -n and -xff not negative"))
	}
	var err error
	if o.xffBase, err = netip.ParseAddr(*base); err != nil || !o.xffBase.Is4() {
		errs = append(errs, fmt.Errorf("-xff-base %q: want an IPv4 address", *base))
	} else if uint64(binary.BigEndian.Uint32(o.xffBase.AsSlice()))+uint64(o.xff) > 1<<32 {
		errs = append(errs, fmt.Errorf("-xff %d addresses from %s run past 255.255.255.255", o.xff, *base))
	}
	if o.expect, err = ParseExpect(*expect); err != nil {
		errs = append(errs, err)
	}
	if o.loginEmail != "" && os.Getenv(passwordEnv) == "" {
		errs = append(errs, fmt.Errorf("-login-email needs the password in $%s", passwordEnv))
	}
	return o, errors.Join(errs...)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseLoad(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "load run: %v\n", err)
		}
		return exitUsage
	}
	tr := newTransport(o.concurrency)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var bearer string
	if o.loginEmail != "" {
		if bearer, err = login(ctx, client, o.url, o.loginEmail, os.Getenv(passwordEnv)); err != nil {
			fmt.Fprintf(stderr, "load run: %v\n", err)
			return exitFailed
		}
	}
	g := &generator{opts: o, client: client, bearer: bearer}
	if o.warmup > 0 {
		g.phase(ctx, o.warmup, 0, false)
	}
	warmupRequests := g.next.Load()
	cpu0 := processCPU()
	res := g.phase(ctx, o.duration, o.requests, true)
	cpu1 := processCPU()
	res.ClientCPUS, res.ClientCPUTotalS = round((cpu1-cpu0).Seconds(), 2), round(cpu1.Seconds(), 2)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "load run: interrupted")
		return 130
	}
	res.Label, res.URL, res.Concurrency, res.WarmupS = o.label, o.url, o.concurrency, o.warmup.Seconds()
	res.WarmupRequests = int(warmupRequests)
	if o.xff > 0 {
		res.XFFAddresses = min(o.xff, int(g.next.Load()))
	}
	if res.Requests == 0 {
		fmt.Fprintf(stderr, "load run: no request completed in %v\n", o.duration)
		return exitFailed
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "load run: %v\n", err)
		return exitFailed
	}
	if !res.Clean {
		fmt.Fprintf(stderr, "load run: %s: %d of %d requests failed or answered another status than %s: %v %s\n",
			o.url, res.Errors, res.Requests, o.expect.spec, res.StatusCounts, res.FirstError)
		return exitErrors
	}
	return exitOK
}

// newTransport keeps one HTTP/1.1 connection per worker.
func newTransport(conns int) *http.Transport {
	var protos http.Protocols
	protos.SetHTTP1(true)
	return &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, //nolint:gosec // serve's self-signed certificate, on loopback
		Protocols:           &protos,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// login signs in at the API's login route on target's host and returns the
// access token.
func login(ctx context.Context, c *http.Client, target, email, password string) (string, error) {
	u, _ := url.Parse(target)
	u.Path, u.RawQuery = "/api/v1/auth/login", ""
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("signing in: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("signing in at %s as %s: %s %s", u, email, resp.Status, bytes.TrimSpace(data))
	}
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("signing in at %s: no accessToken in the answer", u)
	}
	return out.AccessToken, nil
}

type generator struct {
	opts   *loadOptions
	client *http.Client
	bearer string
	// next numbers requests across phases; with -xff it picks the address.
	next atomic.Int64
}

// phase runs the workers for d, or until n requests when n > 0, and
// returns what they recorded (nothing useful when record is false).
func (g *generator) phase(ctx context.Context, d time.Duration, n int, record bool) Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	var claimed atomic.Int64
	var lastEnd atomic.Int64 // nanoseconds after start
	tallies := make([]*tally, g.opts.concurrency)
	var wg sync.WaitGroup
	for i := range tallies {
		capacity := 0
		if record {
			capacity = 1 << 14
		}
		t := newTally(capacity)
		tallies[i] = t
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.opts.url, nil)
			req.Header.Set("User-Agent", userAgent)
			if g.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+g.bearer)
			}
			for ctx.Err() == nil {
				if n > 0 {
					if claimed.Add(1) > int64(n) {
						return
					}
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				seq := g.next.Add(1) - 1
				if g.opts.xff > 0 {
					req.Header.Set("X-Forwarded-For", xffAddr(g.opts.xffBase, seq%int64(g.opts.xff)))
				}
				status, err := do(g.client, req)
				t1 := time.Now()
				if ctx.Err() != nil {
					return // interrupted: this request says nothing about the server
				}
				if record {
					if err != nil {
						t.failure(err)
					} else {
						t.response(status, t1.Sub(t0))
					}
					for end := int64(t1.Sub(start)); ; {
						cur := lastEnd.Load()
						if end <= cur || lastEnd.CompareAndSwap(cur, end) {
							break
						}
					}
				}
				if err != nil {
					// A refused or broken connection fails at once: do not
					// spin on it.
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if !record {
		return Result{}
	}
	return merge(tallies, time.Duration(lastEnd.Load()), g.opts.expect)
}

// do sends req and reads the whole answer, so the connection is reused.
func do(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("reading the body: %w", err)
	}
	return resp.StatusCode, nil
}

// xffAddr returns the i-th address counted up from base.
func xffAddr(base netip.Addr, i int64) string {
	b := base.As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(i)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b).String()
}

// runBare serves the bare handler until ctx is done.
func runBare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`HOST:PORT` to serve HTTPS on")
	certFile := fs.String("cert", "", "TLS certificate `FILE` (PEM), such as serve's DATA_DIR/tls/tls.crt")
	keyFile := fs.String("key", "", "TLS key `FILE` (PEM)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *certFile == "" || *keyFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "load bare: -cert and -key are required, and nothing else")
		return exitUsage
	}
	reloader, err := certs.NewReloader(*certFile, *keyFile, nil)
	if err != nil {
		fmt.Fprintf(stderr, "load bare: %v\n", err)
		return exitFailed
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "load bare: %v\n", err)
		return exitFailed
	}
	// serve's timeouts (internal/config defaults, server.Serve).
	srv := &http.Server{
		Handler:           BareHandler(),
		TLSConfig:         certs.ServerTLSConfig(reloader),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "listening on https://%s\n", ln.Addr())
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "load bare: %v\n", err)
		return exitFailed
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return exitOK
}

// bareBody is what serve's /api/health/live answers, byte for byte.
var bareBody = []byte(`{"status":"ok"}` + "\n")

// BareHandler answers every request as serve's liveness probe does, with
// none of its middleware.
func BareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(bareBody)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(bareBody)
	})
}
