// Package server is the platform API's security stack that `repairxctl
// serve` runs: login with JWT access and rotating refresh tokens in
// cookies, TOTP 2FA, brute-force lockout, per-IP and per-user rate limits
// with auto-blocking, strict input decoding and attack screening, security
// headers, CORS, CSRF protection, audit events, health probes and metrics.
//
// # The request path
//
// Every request passes, outermost first:
//
//  0. tracing: a server span when OpenTelemetry tracing is on (see
//     internal/tracing), continuing an incoming traceparent;
//  1. observe: request id, panic recovery, security headers, the access log
//     line and the request metrics;
//  2. ratelimit: the client IP (X-Forwarded-For only from trusted proxies),
//     blocks, the per-IP tiers and, for a signed-in user, the per-user tier;
//  3. CORS (an allow-list of origins, with credentials);
//  4. CSRF: http.CrossOriginProtection refuses cross-origin state changes
//     from browsers (cookie-authenticated requests);
//  5. screen: attack payloads in the path, query and JSON body get 400 and
//     an audit event;
//  6. the routes, each with a deadline (server.timeouts.handler).
//
// An authenticated request costs an HMAC check of the JWT, a lookup in the
// revoked-session list (memory or Redis) and one primary-key read of the
// user (role, disabled, 2FA state are taken from the store, not the token);
// it writes nothing.
//
// State lives behind interfaces (store.Store, ratelimit.Limiter and
// Blocker, revoke.List, auth.KeySource) so that several nodes share
// PostgreSQL and Redis by swapping implementations.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/store"
)

// Options are the server's dependencies and settings. Store, Keys, Hasher,
// Limiter and Revoked are required; Blocker unless Policy.Block is zero.
type Options struct {
	Store   store.Store
	Keys    auth.KeySource
	Hasher  *auth.Hasher
	Limiter ratelimit.Limiter
	Blocker ratelimit.Blocker
	Revoked revoke.List
	Audit   *audit.Recorder
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	Settings
}

// Settings are the tunables, from the config file.
type Settings struct {
	// Issuer is the JWT issuer and audience and the TOTP issuer.
	Issuer     string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	SameSite   http.SameSite
	Lockout    store.LockoutPolicy
	// TwoFactorRoles reach nothing but 2FA setup until enrolled.
	TwoFactorRoles []store.Role
	Policy         ratelimit.Policy
	// AllowList is exempt from rate limits; TrustedProxies' X-Forwarded-For
	// is believed; MetricsNetworks may scrape /api/metrics (besides loopback).
	AllowList       clientip.PrefixSet
	TrustedProxies  clientip.PrefixSet
	MetricsNetworks clientip.PrefixSet
	CORSOrigins     []string
	MaxBodyBytes    int64
	HandlerTimeout  time.Duration
	// Business lists the checks of /api/health/business.
	Business    []string
	CertMinDays int
	// CertNotAfter returns the serving certificate's expiry (nil: no TLS).
	CertNotAfter func() time.Time
	// AuditFile is the JSON-lines audit file checked by audit_file.
	AuditFile string
}

// DefaultSettings are the documented defaults.
func DefaultSettings() Settings {
	return Settings{
		Issuer:         "repairxctl",
		AccessTTL:      15 * time.Minute,
		RefreshTTL:     7 * 24 * time.Hour,
		SameSite:       http.SameSiteStrictMode,
		Lockout:        store.LockoutPolicy{Threshold: 5, BaseLock: 15 * time.Minute, MaxLock: 24 * time.Hour, Window: time.Hour, ForgetLockouts: 24 * time.Hour},
		TwoFactorRoles: []store.Role{store.RoleAdmin, store.RoleOwner},
		Policy:         ratelimit.DefaultPolicy(),
		MaxBodyBytes:   64 << 10,
		HandlerTimeout: 10 * time.Second,
		CertMinDays:    14,
	}
}

// Server is the API. Its Handler is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	tokens   *auth.Tokens
	resolver *clientip.Resolver
	metrics  *Metrics
	handler  http.Handler
	// metricsHandler serves the registry.
	metricsHandler http.Handler
	orgs           sync.Map // organisation id -> store.Organisation (names never change)
}

// New checks opts and assembles the handler chain.
func New(opts Options) (*Server, error) {
	var missing []string
	if opts.Store == nil {
		missing = append(missing, "Store")
	}
	if opts.Keys == nil {
		missing = append(missing, "Keys")
	}
	if opts.Hasher == nil {
		missing = append(missing, "Hasher")
	}
	if opts.Limiter == nil {
		missing = append(missing, "Limiter")
	}
	if opts.Revoked == nil {
		missing = append(missing, "Revoked")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("server: missing %v", missing)
	}
	if err := opts.Lockout.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if opts.AccessTTL <= 0 || opts.RefreshTTL <= 0 || opts.MaxBodyBytes <= 0 || opts.HandlerTimeout <= 0 {
		return nil, errors.New("server: token lifetimes, the body limit and the handler timeout must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		resolver: clientip.NewResolver(opts.TrustedProxies),
		metrics:  NewMetrics(),
		tokens: auth.NewTokens(opts.Keys, auth.TokenConfig{
			Issuer:    opts.Issuer,
			Audience:  opts.Issuer,
			AccessTTL: opts.AccessTTL,
			Leeway:    5 * time.Second,
		}),
	}
	s.metricsHandler = s.metrics.Handler()
	if s.opts.Audit == nil {
		s.opts.Audit = audit.NewRecorder(opts.Logger, opts.Store)
	}
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// Handler is the whole API with its middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics is the server's Prometheus registry and collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// MetricsHandler serves /api/metrics for a separate metrics listener.
func (s *Server) MetricsHandler() http.Handler { return s.metricsHandler }

func (s *Server) twoFactorRequired(r store.Role) bool {
	return slices.Contains(s.opts.TwoFactorRoles, r)
}

// organisation returns an organisation from the cache or the store.
func (s *Server) organisation(ctx context.Context, id string) (store.Organisation, error) {
	if v, ok := s.orgs.Load(id); ok {
		return v.(store.Organisation), nil
	}
	org, err := s.opts.Store.OrganisationByID(ctx, id)
	if err != nil {
		return store.Organisation{}, err
	}
	s.orgs.Store(id, org)
	return org, nil
}
