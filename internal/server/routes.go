package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/screen"
	"github.com/repairx/repairxctl/internal/tracing"
)

// The routes. Paths are part of the API: clients and the NGINX config name
// them.
const (
	pathLogin         = "/api/v1/auth/login"
	pathRefresh       = "/api/v1/auth/refresh"
	pathLogout        = "/api/v1/auth/logout"
	path2FASetup      = "/api/v1/auth/2fa/setup"
	path2FAVerify     = "/api/v1/auth/2fa/verify"
	path2FADisable    = "/api/v1/auth/2fa/disable"
	pathMe            = "/api/v1/me"
	pathLive          = "/api/health/live"
	pathReady         = "/api/health/ready"
	pathBusiness      = "/api/health/business"
	pathMetrics       = "/api/metrics"
	refreshCookiePath = "/api/v1/auth"
)

// classOf is the rate-limit class of a request: the strictest tier for the
// endpoints that check a secret, none for probes a load balancer polls and
// the network-restricted metrics.
func classOf(r *http.Request) ratelimit.Class {
	switch r.URL.Path {
	case pathLogin, pathRefresh, path2FAVerify, path2FADisable:
		return ratelimit.ClassAuth
	case pathLive, pathReady, pathMetrics:
		// Only what a probe or a scraper sends; anything else on these
		// paths is counted like any request.
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return ratelimit.ClassUnlimited
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/v1/") {
		return ratelimit.ClassAPI
	}
	return ratelimit.ClassGeneral
}

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			state(r).route = pattern
			tracing.RecordRoute(r)
			h(w, r)
		}))
	}
	handle("POST "+pathLogin, s.handleLogin)
	handle("POST "+pathRefresh, s.handleRefresh)
	handle("POST "+pathLogout, s.handleLogout)
	handle("POST "+path2FASetup, s.authed(s.handle2FASetup, allowUnenrolled))
	handle("POST "+path2FAVerify, s.authed(s.handle2FAVerify, allowUnenrolled))
	handle("POST "+path2FADisable, s.authed(s.handle2FADisable, 0))
	handle("GET "+pathMe, s.authed(s.handleMe, 0))
	handle("GET "+pathLive, s.handleLive)
	handle("GET "+pathReady, s.handleReady)
	handle("GET "+pathBusiness, s.handleBusiness)
	handle("GET "+pathMetrics, s.handleMetrics)
	handle("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such route")
	})

	limit, err := ratelimit.Middleware(ratelimit.Config{
		Policy:    s.opts.Policy,
		Limiter:   s.opts.Limiter,
		Blocker:   s.opts.Blocker,
		ClientIP:  s.resolver,
		AllowList: s.opts.AllowList,
		Classify:  classOf,
		UserID:    s.rateLimitUser,
		Now:       s.now,
		OnViolation: func(r *http.Request, ev ratelimit.Event) {
			s.metrics.Violations.WithLabelValues(ev.Tier.String()).Inc()
		},
		OnBlock: func(r *http.Request, ev ratelimit.Event) {
			s.metrics.Blocks.Inc()
			s.opts.Audit.Record(r.Context(), audit.Event{
				Timestamp: ev.Time, UserID: ev.UserID, IP: ev.IP.String(), UserAgent: truncate(r.UserAgent(), 256),
				Action: audit.ActionIPBlock, Resource: "ip:" + ev.Key, Result: audit.ResultBlocked,
				Details: map[string]any{"until": ev.BlockedUntil.UTC().Format("2006-01-02T15:04:05Z"), "violations": ev.Violations, "tier": ev.Tier.String()},
			})
			s.log.WarnContext(r.Context(), "client blocked", "ip", ev.IP.String(), "key", ev.Key, "until", ev.BlockedUntil)
		},
		OnError: func(r *http.Request, err error) {
			s.metrics.LimiterFailures.Inc()
			s.log.ErrorContext(r.Context(), "rate limiter failed", "request_id", state(r).id, "error", err.Error())
		},
		Reject: func(w http.ResponseWriter, r *http.Request, status int) {
			switch status {
			case http.StatusTooManyRequests:
				writeError(w, r, status, "rate_limited", "too many requests: retry later")
			case http.StatusForbidden:
				writeError(w, r, status, "blocked", "this address is blocked")
			default:
				writeError(w, r, status, "unavailable", "temporarily unavailable: retry later")
			}
		},
	})
	if err != nil {
		return nil, err
	}

	csrf := http.NewCrossOriginProtection()
	for _, o := range s.opts.CORSOrigins {
		if err := csrf.AddTrustedOrigin(strings.TrimSuffix(o, "/")); err != nil {
			return nil, err
		}
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusForbidden, "cross_origin", "cross-origin request refused")
	}))

	var h http.Handler = mux
	h = s.deadline(h)
	h = s.screen(h)
	h = csrf.Handler(h)
	h = s.cors(h)
	h = s.recordIP(limit(h))
	// The span starts before observe, so the access log line carries its
	// trace id.
	return tracing.Middleware(s.observe(h)), nil
}

// recordIP notes the client address for the log and the handlers (the rate
// limiter resolves it too; resolving is a few comparisons).
func (s *Server) recordIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, err := s.resolver.ClientIP(r); err == nil {
			state(r).ip = ip
		}
		next.ServeHTTP(w, r)
	})
}

// exemptFields are never screened: a password, a code or a token may
// contain anything.
var exemptFields = map[string]bool{"password": true, "totp": true, "backupCode": true, "code": true}

// screen refuses requests carrying obvious attack payloads, with an audit
// event. JSON bodies are read here (within the body limit) and handed on.
func (s *Server) screen(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := screen.Request(r)
		// Bodies are read and screened only where a route takes one.
		takesBody := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/")
		if f == nil && takesBody && r.Body != nil && r.Body != http.NoBody && isJSON(r) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					writeError(w, r, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
					return
				}
				writeError(w, r, http.StatusBadRequest, "invalid_request", "could not read the request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			f = screen.JSONBody(body, exemptFields)
		}
		if f != nil {
			st := state(r)
			s.metrics.Attacks.WithLabelValues(string(f.Category)).Inc()
			s.opts.Audit.Record(r.Context(), audit.Event{
				Timestamp: s.now(), UserID: st.userID, IP: st.ip.String(), UserAgent: truncate(r.UserAgent(), 256),
				Action: audit.ActionAttackBlocked, Resource: r.Method + " " + truncate(r.URL.Path, 200), Result: audit.ResultBlocked,
				Details: map[string]any{"category": string(f.Category), "field": f.Field, "rule": f.Rule},
			})
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "request refused: the input looks like an attack", Code: "rejected_input", Field: f.Field, RequestID: st.id})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
