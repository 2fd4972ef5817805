package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/certs"
	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/ratelimit/redisrl"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/server/revoke/redisrevoke"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/tracing"
	"github.com/repairx/repairxctl/internal/ui"
)

// KeysFileName is the local key store in the data directory: the JWT
// signing keys and the data key.
const KeysFileName = "keys.json"

// ServeOptions are the inputs of `serve`.
type ServeOptions struct {
	IO     *ui.IOStreams
	Config func() (*config.Config, error)
	Now    func() time.Time
	// Ready, when set, hears the bound addresses once the server answers
	// (tests use it instead of parsing stderr).
	Ready func(ServeAddrs)
	// Version names this build in traces (service.version).
	Version string
}

// ServeAddrs are the addresses serve listens on.
type ServeAddrs struct {
	API, Redirect, Metrics string
	TLS                    bool
}

func newServeCmd(f *Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "serve",
		Short:   "Serve the platform API's security stack (HTTPS, TLS 1.3)",
		GroupID: groupOperate,
		Long: `Serve the platform API's authentication and traffic protection: login with
JWT access tokens (15 minutes) and rotating refresh tokens (7 days) in
HttpOnly, Secure, SameSite cookies or as a Bearer token, refresh, logout,
TOTP two-factor authentication with backup codes (mandatory for admin and
owner), brute-force lockout, per-IP and per-user rate limits with automatic
blocking, strict input validation and attack screening, security headers,
CORS, CSRF protection, audit events, health probes and Prometheus metrics.

With no configuration it listens on https://127.0.0.1:8443 with TLS 1.3 only,
on a self-signed certificate generated into the data directory, and keeps
users, sessions and the audit log in the embedded store there (schema
migrations run at start-up). On start it prints where it listens, the data
directory, the certificate's SHA-256 fingerprint and, while no user exists,
the command that creates the first one. Logs are JSON lines on stderr.

Routes: POST /api/v1/auth/{login,refresh,logout}, POST
/api/v1/auth/2fa/{setup,verify,disable}, GET /api/v1/me,
GET /api/health/{live,ready,business}, GET /api/metrics (loopback and
server.metrics_networks only). See docs/serve.md.

SIGTERM or SIGINT stops accepting connections and lets in-flight requests
finish (server.timeouts.shutdown); SIGHUP reloads the TLS certificate, which
is also reloaded when its files change.

Several nodes share PostgreSQL (database.url), Redis (redis.url) and a key
ring sealed under auth.key_encryption_key: see docs/serve.md.

Exit status: 0 after a graceful shutdown; 1 the server failed (the address
is taken, the store cannot be opened); 2 usage or configuration error; 4 the
database refused the credentials; 75 the database was unreachable at start.`,
		Example: `  # On embedded defaults: https://127.0.0.1:8443, data in $XDG_DATA_HOME/repairxctl
  repairxctl serve

  # Another address and data directory
  repairxctl serve --listen 127.0.0.1:9443 --data-dir /var/lib/repairxctl

  # Behind NGINX on this host, which terminates TLS
  REPAIRX_SERVER_TRUSTED_PROXIES=127.0.0.1/32 repairxctl serve --insecure-plain-http --listen 127.0.0.1:8080 \
    --metrics-listen 10.0.0.5:9100`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			opts.Now = f.Now
			opts.Version = f.Build.Version
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.String("listen", "", "serve HTTPS on `HOST:PORT` (default 127.0.0.1:8443)")
	bindKey(fl, "listen", "server.listen")
	fl.String("redirect-listen", "", "also answer plain HTTP on `HOST:PORT` with a redirect to HTTPS")
	bindKey(fl, "redirect-listen", "server.redirect_listen")
	fl.String("metrics-listen", "", "also serve /api/metrics in plain HTTP on `HOST:PORT`")
	bindKey(fl, "metrics-listen", "server.metrics_listen")
	fl.String("tls-cert", "", "TLS certificate `FILE` (PEM; default: self-signed in the data directory)")
	bindKey(fl, "tls-cert", "server.tls.cert_file")
	fl.String("tls-key", "", "TLS private key `FILE` (PEM)")
	bindKey(fl, "tls-key", "server.tls.key_file")
	fl.Bool("insecure-plain-http", false, "serve plain HTTP (loopback addresses only, for a TLS proxy on this host)")
	bindKey(fl, "insecure-plain-http", "server.insecure_plain_http")
	fl.String("audit-file", "", "also append audit events as JSON lines to `FILE`")
	bindKey(fl, "audit-file", "audit.file")
	addDatabaseURLFlag(fl)
	fl.String("redis-url", "", "share rate limits, blocks and revocations in the Redis at `URL` (redis://HOST:PORT/DB; no password in it: give such a URL as redis.url, a secret)")
	bindKey(fl, "redis-url", "redis.url")
	_ = cmd.MarkFlagFilename("tls-cert", "pem", "crt")
	_ = cmd.MarkFlagFilename("tls-key", "pem", "key")
	_ = cmd.MarkFlagFilename("audit-file")
	return cmd
}

// serveSettings turns the configuration into the server's settings; errors
// name the key and its source.
func serveSettings(cfg *config.Config) (server.Settings, error) {
	s := server.DefaultSettings()
	var errs config.Errors
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Error{Key: key, Source: cfg.Source(key), Msg: fmt.Sprintf(format, args...)})
	}
	s.Issuer = cfg.Auth.Issuer
	s.AccessTTL = cfg.Auth.AccessTTL
	s.RefreshTTL = cfg.Auth.RefreshTTL
	s.SameSite = http.SameSiteStrictMode
	if cfg.Auth.SameSite == "lax" {
		s.SameSite = http.SameSiteLaxMode
	}
	s.Lockout = store.LockoutPolicy{Threshold: cfg.Auth.Lockout.Threshold, BaseLock: cfg.Auth.Lockout.Duration, MaxLock: cfg.Auth.Lockout.Max,
		Window: cfg.Auth.Lockout.Window, ForgetLockouts: cfg.Auth.Lockout.ForgetAfter}
	s.TwoFactorRoles = nil
	for _, r := range cfg.Auth.TwoFactorRoles {
		role, err := store.ParseRole(r)
		if err != nil {
			bad("auth.two_factor_roles", "%v", err)
			continue
		}
		s.TwoFactorRoles = append(s.TwoFactorRoles, role)
	}
	p := ratelimit.DefaultPolicy()
	for _, t := range []struct {
		key string
		val string
		dst *ratelimit.Limit
	}{
		{"ratelimit.global", cfg.RateLimit.Global, &p.Global},
		{"ratelimit.api", cfg.RateLimit.API, &p.API},
		{"ratelimit.auth", cfg.RateLimit.Auth, &p.Auth},
		{"ratelimit.user", cfg.RateLimit.User, &p.User},
	} {
		l, err := ratelimit.ParseLimit(t.val)
		if err != nil {
			bad(t.key, "%v", err)
			continue
		}
		*t.dst = l
	}
	if cfg.RateLimit.BlockAfter == 0 {
		p.Block = ratelimit.BlockRule{}
	} else {
		p.Block.Threshold = cfg.RateLimit.BlockAfter
		p.Block.Duration = cfg.RateLimit.BlockFor
	}
	p.FailClosed = nil
	for _, name := range cfg.RateLimit.FailClosed {
		var c ratelimit.Class
		if err := c.UnmarshalText([]byte(name)); err != nil {
			bad("ratelimit.fail_closed", "%v", err)
			continue
		}
		p.FailClosed = append(p.FailClosed, c)
	}
	if err := p.Validate(); err != nil {
		bad("ratelimit", "%v", err)
	}
	s.Policy = p
	prefixes := func(key string, list []string) clientip.PrefixSet {
		set, err := clientip.ParsePrefixes(list)
		if err != nil {
			bad(key, "%v", err)
		}
		return set
	}
	s.AllowList = prefixes("ratelimit.allow_list", cfg.RateLimit.AllowList)
	s.TrustedProxies = prefixes("server.trusted_proxies", cfg.Server.TrustedProxies)
	s.MetricsNetworks = prefixes("server.metrics_networks", cfg.Server.MetricsNetworks)
	s.CORSOrigins = cfg.Server.CORSOrigins
	s.MaxBodyBytes = cfg.Server.MaxBodyBytes
	s.HandlerTimeout = cfg.Server.Timeouts.Handler
	s.Business = cfg.Health.Business
	s.CertMinDays = cfg.Health.CertMinDays
	s.AuditFile = cfg.Audit.File
	if cfg.Server.InsecurePlainHTTP {
		if !isLoopback(cfg.Server.Listen) {
			bad("server.insecure_plain_http", "plain HTTP is served on loopback addresses only, and server.listen is %q: use TLS, or listen on 127.0.0.1 behind a proxy on this host", cfg.Server.Listen)
		}
		if cfg.Server.RedirectListen != "" {
			bad("server.redirect_listen", "a redirect to HTTPS makes no sense with server.insecure_plain_http")
		}
		if len(cfg.Server.TrustedProxies) == 0 {
			bad("server.trusted_proxies", "plain HTTP is for a TLS proxy on this host: name it in server.trusted_proxies (e.g. 127.0.0.1/32), or every client looks like the proxy, shares one rate limit and one block")
		}
	}
	if len(errs) > 0 {
		return s, exitcode.New(exitcode.Usage, &errs)
	}
	return s, nil
}

// isLoopback reports whether a listen address is a loopback one; names
// other than localhost and unspecified addresses are not.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	settings, err := serveSettings(cfg)
	if err != nil {
		return err
	}
	if err := checkURLFlag(cfg, "redis.url", "--redis-url", cfg.Redis.URL, "redis", "rediss"); err != nil {
		return err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	level := slog.LevelInfo
	switch {
	case cfg.Verbose:
		level = slog.LevelDebug
	case cfg.Quiet:
		level = slog.LevelWarn
	}
	// Log lines written with a request's context carry its trace_id and
	// span_id when tracing is on; without a span the wrapper costs a
	// context lookup.
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: level})))
	stopTracing, err := serveTracing(ctx, cfg, opts.Version, log)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the server has answered its
	// in-flight requests, whose spans it then sends.
	defer stopTracing()

	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, keysWhere, err := serveKeys(ctx, cfg, st, now(), log)
	if err != nil {
		return err
	}
	hasher, err := auth.NewHasher(cfg.Auth.BcryptCost)
	if err != nil {
		return exitcode.New(exitcode.Usage, cfg.Invalid("auth.bcrypt_cost", "%v", err))
	}

	sinks := []audit.Sink{st}
	if cfg.Audit.File != "" {
		fs, err := audit.OpenFileSink(cfg.Audit.File)
		if err != nil {
			return exitcode.New(exitcode.Usage, cfg.Invalid("audit.file", "%v", err))
		}
		defer fs.Close()
		sinks = append(sinks, fs)
	}
	recorder := audit.NewRecorder(log, sinks...)

	// Listeners first, so that a taken address fails before anything runs.
	var ls server.Listeners
	var reloader *certs.Reloader
	if !cfg.Server.InsecurePlainHTTP {
		certFile, keyFile := cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile
		if certFile == "" {
			var created bool
			certFile, keyFile, created, err = certs.EnsureSelfSigned(filepath.Join(cfg.DataDir, "tls"), cfg.Server.TLS.Hosts, now())
			if err != nil {
				return fmt.Errorf("preparing the self-signed certificate: %w", err)
			}
			if created {
				log.Info("generated a self-signed certificate", "file", certFile)
			}
		}
		reloader, err = certs.NewReloader(certFile, keyFile, log)
		if err != nil {
			return err
		}
		ls.TLS = certs.ServerTLSConfig(reloader)
		settings.CertNotAfter = func() time.Time { return reloader.Current().Leaf.NotAfter }
	}
	var lc net.ListenConfig
	listen := func(key, addr string) (net.Listener, error) {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s (%s): %w", addr, key, err)
		}
		return l, nil
	}
	closeAll := func() {
		for _, l := range []net.Listener{ls.Main, ls.Redirect, ls.Metrics} {
			if l != nil {
				l.Close()
			}
		}
	}
	if ls.Main, err = listen("server.listen", cfg.Server.Listen); err != nil {
		return err
	}
	if cfg.Server.RedirectListen != "" {
		if ls.Redirect, err = listen("server.redirect_listen", cfg.Server.RedirectListen); err != nil {
			closeAll()
			return err
		}
		ls.RedirectHandler = certs.RedirectHandler(ls.Main.Addr().String())
	}
	if cfg.Server.MetricsListen != "" {
		if ls.Metrics, err = listen("server.metrics_listen", cfg.Server.MetricsListen); err != nil {
			closeAll()
			return err
		}
	}

	traffic, err := serveTraffic(cfg, now, log)
	if err != nil {
		closeAll()
		return err
	}
	defer traffic.close()
	srv, err := server.New(server.Options{
		Store:    st,
		Keys:     auth.NewStaticKeys(keys),
		Hasher:   hasher,
		Limiter:  traffic.limiter,
		Blocker:  traffic.blocker,
		Revoked:  traffic.revoked,
		Audit:    recorder,
		Logger:   log,
		Now:      now,
		Settings: settings,
	})
	if err != nil {
		closeAll()
		return err
	}
	srv.Metrics().SetBlockedCount(traffic.blockedCount)
	if !cfg.Redis.URL.IsSet() {
		// The in-memory revoked-session list starts empty: put back the
		// sessions that ended within an access token's lifetime.
		n, err := srv.RestoreRevocations(ctx)
		if err != nil {
			closeAll()
			return err
		}
		if n > 0 {
			log.Info("restored revoked sessions", "sessions", n)
		}
	}
	recorder.OnError = func(int, error) { srv.Metrics().AuditErrors.Inc() }

	users, err := st.CountUsers(ctx)
	if err != nil {
		closeAll()
		return fmt.Errorf("counting users: %w", err)
	}
	addrs := ServeAddrs{API: ls.Main.Addr().String(), TLS: ls.TLS != nil}
	if ls.Redirect != nil {
		addrs.Redirect = ls.Redirect.Addr().String()
	}
	if ls.Metrics != nil {
		addrs.Metrics = ls.Metrics.Addr().String()
	}
	printBanner(opts.IO, cfg, addrs, reloader, users, keysWhere, traffic.where)

	if reloader != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				if err := reloader.Reload(); err != nil {
					log.Error("reloading the TLS certificate", "error", err.Error())
				} else {
					log.Info("reloaded the TLS certificate", "fingerprint", reloader.Fingerprint())
				}
			}
		}()
	}
	if opts.Ready != nil {
		opts.Ready(addrs)
	}
	err = srv.Serve(ctx, ls, server.Timeouts{
		ReadHeader: cfg.Server.Timeouts.ReadHeader,
		Read:       cfg.Server.Timeouts.Read,
		Write:      cfg.Server.Timeouts.Write,
		Idle:       cfg.Server.Timeouts.Idle,
		Shutdown:   cfg.Server.Timeouts.Shutdown,
	})
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

// printBanner tells the operator, on stderr, where the server is and, on a
// fresh data directory, how to get the first user in.
func printBanner(io *ui.IOStreams, cfg *config.Config, a ServeAddrs, r *certs.Reloader, users int, keysWhere, trafficWhere string) {
	w := io.ErrOut
	scheme := "https"
	if !a.TLS {
		scheme = "http"
	}
	fmt.Fprintf(w, "repairxctl serve: listening on %s://%s\n", scheme, a.API)
	if !a.TLS {
		fmt.Fprintf(w, "  WARNING: plain HTTP without TLS (server.insecure_plain_http): only for a TLS-terminating proxy on this host\n")
	}
	if a.Redirect != "" {
		fmt.Fprintf(w, "  redirecting http://%s to HTTPS\n", a.Redirect)
	}
	if a.Metrics != "" {
		fmt.Fprintf(w, "  metrics on http://%s%s\n", a.Metrics, "/api/metrics")
	}
	fmt.Fprintf(w, "  data directory: %s\n", cfg.DataDir)
	fmt.Fprintf(w, "  keys: %s; rate limits, blocks and revoked sessions: %s\n", keysWhere, trafficWhere)
	if cfg.Tracing.Endpoint != "" {
		fmt.Fprintf(w, "  tracing: OTLP to %s, sampling %g of new traces\n", cfg.Tracing.Endpoint, cfg.Tracing.SampleRatio)
	}
	if r != nil {
		fmt.Fprintf(w, "  certificate: %s\n", r.Fingerprint())
	}
	if users == 0 {
		fmt.Fprintf(w, "  no user exists yet: create the first owner with\n")
		fmt.Fprintf(w, "    repairxctl user create --data-dir %s --email you@example.com --role owner\n", shellQuote(cfg.DataDir))
		fmt.Fprintf(w, "  (it asks for the password; owners and admins enrol in TOTP at first login)\n")
	}
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// serveKeys loads the JWT signing keys and the data key: from keys.json in
// the data directory on one node, or, with a shared database, from the
// store, sealed under auth.key_encryption_key, so every node signs and
// unseals with the same keys.
func serveKeys(ctx context.Context, cfg *config.Config, st store.Store, now time.Time, log *slog.Logger) (*auth.Keys, string, error) {
	if !cfg.Database.URL.IsSet() {
		path := filepath.Join(cfg.DataDir, KeysFileName)
		keys, created, err := auth.LoadOrCreateKeys(path, now)
		if err != nil {
			return nil, "", fmt.Errorf("loading the key store: %w", err)
		}
		if created {
			log.Info("generated a signing key and a data key", "file", path)
		}
		return keys, path, nil
	}
	if !cfg.Auth.KeyEncryptionKey.IsSet() {
		return nil, "", exitcode.New(exitcode.Usage, cfg.Invalid("auth.key_encryption_key",
			"with database.url the keys live in the shared database, sealed under this key: set it to 32 random bytes in base64 (head -c 32 /dev/urandom | base64), the same on every node"))
	}
	raw, err := cfg.Auth.KeyEncryptionKey.Resolve()
	if err != nil {
		return nil, "", exitcode.New(exitcode.Usage, cfg.Invalid("auth.key_encryption_key", "%v", err))
	}
	kek, err := auth.ParseKEK(raw)
	if err != nil {
		return nil, "", exitcode.New(exitcode.Usage, cfg.Invalid("auth.key_encryption_key", "%v", err))
	}
	bs, ok := st.(store.Blobs)
	if !ok {
		return nil, "", errors.New("this store cannot hold the shared key ring")
	}
	keys, created, err := auth.LoadOrCreateSharedKeys(ctx, bs, kek, now)
	if err != nil {
		return nil, "", err
	}
	if created {
		log.Info("generated the shared signing key and data key in the database")
	}
	return keys, "the shared database (sealed)", nil
}

// tracingFlushTimeout bounds the flush of queued spans at exit, so that an
// unreachable collector cannot hold up a shutdown.
const tracingFlushTimeout = 5 * time.Second

// serveTracing turns on OpenTelemetry tracing when tracing.endpoint is set.
// Its stop sends the spans still queued, within tracingFlushTimeout.
func serveTracing(ctx context.Context, cfg *config.Config, version string, log *slog.Logger) (stop func(), err error) {
	if cfg.Tracing.Endpoint == "" {
		return func() {}, nil
	}
	shutdown, err := tracing.Setup(ctx, tracing.Options{
		Endpoint:       cfg.Tracing.Endpoint,
		SampleRatio:    cfg.Tracing.SampleRatio,
		ServiceName:    "repairxctl",
		ServiceVersion: version,
		Logger:         log,
	})
	if err != nil {
		// Config validation refuses what Setup refuses; this is the backstop.
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("tracing.endpoint", "%s", strings.TrimPrefix(err.Error(), "tracing: ")))
	}
	return func() {
		// ctx is done by now (a signal ended serve): the flush gets its own.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingFlushTimeout)
		defer cancel()
		if err := shutdown(fctx); err != nil {
			log.Warn("tracing: queued spans not sent", "error", err.Error())
		}
	}, nil
}

// traffic is the state behind rate limits, blocks and revoked sessions.
type traffic struct {
	limiter      ratelimit.Limiter
	blocker      ratelimit.Blocker
	revoked      revoke.List
	blockedCount func() float64
	where        string
	close        func()
}

// redisPrefix starts every key serve keeps in Redis; nodes sharing limits
// must use the same one. The hash tag keeps a script's keys on one shard of
// a Redis Cluster.
const redisPrefix = "{repairx}:"

// serveTraffic builds the limiter, blocker and revocation list: in memory
// on one node, in Redis (redis.url) when several nodes must share them.
func serveTraffic(cfg *config.Config, now func() time.Time, log *slog.Logger) (*traffic, error) {
	if !cfg.Redis.URL.IsSet() {
		memOpts := ratelimit.MemoryOptions{}
		blocker := ratelimit.NewMemoryBlocker(memOpts)
		return &traffic{
			limiter: ratelimit.NewMemoryLimiter(memOpts),
			blocker: blocker,
			revoked: revoke.NewMemory(),
			blockedCount: func() float64 {
				_, blocks := blocker.Len()
				return float64(blocks)
			},
			where: "memory (this node only)",
			close: func() {},
		}, nil
	}
	raw, err := cfg.Redis.URL.Resolve()
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("redis.url", "%v", err))
	}
	client, err := redisrl.NewClient(raw)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("redis.url", "%v", err))
	}
	redis.SetLogger(redisLogger{log})
	blocker := redisrl.NewBlocker(client, redisPrefix)
	return &traffic{
		limiter: redisrl.NewLimiter(client, redisPrefix),
		blocker: blocker,
		revoked: redisrevoke.New(client, redisPrefix),
		blockedCount: func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			b, err := blocker.Blocked(ctx, now())
			if err != nil {
				return -1
			}
			return float64(len(b))
		},
		where: "Redis (shared)",
		close: func() { client.Close() },
	}, nil
}

// redisLogger sends go-redis' own messages (failed dials) to the JSON log
// instead of its default plain stderr logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
