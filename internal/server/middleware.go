package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/httpx"
)

// reqState is the per-request scratchpad the middleware share through the
// context: set once by observe, filled in as the request goes.
type reqState struct {
	id     string
	start  time.Time
	route  string // the matched pattern, set by the route wrapper
	ip     netip.Addr
	userID string
	// claims are the verified access token, parsed at most once per request
	// (by the rate limiter's user tier or by the auth check).
	claims    *auth.AccessClaims
	claimsErr error
	parsed    bool
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// securityHeaders go on every response, errors and redirects included.
var securityHeaders = [][2]string{
	{"Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
	{"Cache-Control", "no-store"},
}

// methods bounds the method label's values.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe is the outermost middleware: request id, security headers, panic
// recovery, the access log and the request metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{id: newRequestID(), start: s.now()}
		h := w.Header()
		for _, kv := range securityHeaders {
			h.Set(kv[0], kv[1])
		}
		h.Set("X-Request-Id", st.id)
		sw := &httpx.StatusWriter{ResponseWriter: w}
		s.metrics.InFlight.Inc()
		defer func() {
			s.metrics.InFlight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic answering a request",
					slog.String("request_id", st.id), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if !sw.Wrote {
					writeError(sw, r, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			d := s.now().Sub(st.start)
			route := st.route
			if route == "" {
				route = "unmatched"
			}
			method := r.Method
			if !slices.Contains(methods, method) {
				method = "OTHER"
			}
			code := sw.Status()
			s.metrics.observe(route, method, code, d)
			level := slog.LevelInfo
			if code >= 500 {
				level = slog.LevelError
			}
			attrs := []slog.Attr{
				slog.String("request_id", st.id),
				slog.String("method", method),
				slog.String("route", route),
				// The path only: a query string may carry something secret.
				slog.String("path", truncate(r.URL.Path, 200)),
				slog.Int("status", code),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			}
			if st.ip.IsValid() {
				attrs = append(attrs, slog.String("ip", st.ip.String()))
			}
			if st.userID != "" {
				attrs = append(attrs, slog.String("user_id", st.userID))
			}
			s.log.LogAttrs(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// corsMethods and corsHeaders are what a browser may send cross-origin.
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Authorization, Content-Type, X-Request-Id"
)

// cors answers preflights and adds the CORS fields for allow-listed
// origins. Credentials are allowed, so the origin is echoed, never "*".
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(s.opts.CORSOrigins))
	for _, o := range s.opts.CORSOrigins {
		allowed[strings.TrimSuffix(strings.ToLower(o), "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		ok := allowed[strings.ToLower(origin)]
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy")
		}
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !ok {
				writeError(w, r, http.StatusForbidden, "cors_origin", "origin not allowed")
				return
			}
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(600))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// deadline bounds a handler's work: the store calls it makes are cancelled
// when the time is up.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.HandlerTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
