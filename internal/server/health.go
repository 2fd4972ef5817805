package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/store"
)

type checkResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

type healthResponse struct {
	Status string        `json:"status"`
	Checks []checkResult `json:"checks,omitempty"`
}

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
}

// Pinger is implemented by backends that readiness checks (the store, and
// a Redis rate limiter on several nodes).
type Pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := []checkResult{s.ping(ctx, "store", s.opts.Store)}
	if p, ok := s.opts.Limiter.(Pinger); ok {
		checks = append(checks, s.ping(ctx, "ratelimit", p))
	}
	s.answerChecks(w, r, checks)
}

func (s *Server) ping(ctx context.Context, name string, p Pinger) checkResult {
	if err := p.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "check", name, "error", err.Error())
		// The error may name hosts; the probe's caller only needs the verdict.
		return checkResult{Name: name, OK: false, Detail: "unreachable"}
	}
	return checkResult{Name: name, OK: true}
}

func (s *Server) answerChecks(w http.ResponseWriter, r *http.Request, checks []checkResult) {
	status, code := "ok", http.StatusOK
	for _, c := range checks {
		if !c.OK {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
	}
	if !s.internal(r) {
		// The public learns the verdict, not which check failed or why.
		for i := range checks {
			checks[i].Detail = ""
		}
	}
	writeJSON(w, code, healthResponse{Status: status, Checks: checks})
}

// internal reports whether a request comes from loopback or a configured
// scrape network, and not through a proxy that failed to name the client:
// a request a trusted proxy forwarded without X-Forwarded-For would
// otherwise look like loopback.
func (s *Server) internal(r *http.Request) bool {
	ip := state(r).ip
	if !ip.IsValid() || !(ip.IsLoopback() || s.opts.MetricsNetworks.Contains(ip)) {
		return false
	}
	if peer, err := clientip.ParseRemoteAddr(r.RemoteAddr); err == nil && s.opts.TrustedProxies.Contains(peer) &&
		r.Header.Get("X-Forwarded-For") == "" {
		return false
	}
	return true
}

// handleBusiness runs the configured business checks: that someone can
// administer the platform, that the certificate is not about to expire, that
// the audit file takes writes.
func (s *Server) handleBusiness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var checks []checkResult
	for _, name := range s.opts.Business {
		switch name {
		case "admin":
			checks = append(checks, s.checkAdmin(ctx))
		case "certificate":
			checks = append(checks, s.checkCertificate())
		case "audit_file":
			checks = append(checks, s.checkAuditFile())
		}
	}
	s.answerChecks(w, r, checks)
}

func (s *Server) checkAdmin(ctx context.Context) checkResult {
	for _, role := range []store.Role{store.RoleOwner, store.RoleAdmin} {
		users, err := s.opts.Store.ListUsers(ctx, store.UserFilter{Role: role})
		if err != nil {
			s.log.WarnContext(ctx, "business check admin failed", "error", err.Error())
			return checkResult{Name: "admin", Detail: "store unreachable"}
		}
		for _, u := range users {
			if !u.Disabled {
				return checkResult{Name: "admin", OK: true}
			}
		}
	}
	return checkResult{Name: "admin", Detail: "no enabled admin or owner account: create one with repairxctl user create --role owner"}
}

func (s *Server) checkCertificate() checkResult {
	if s.opts.CertNotAfter == nil {
		return checkResult{Name: "certificate", OK: true, Detail: "TLS is terminated in front of this server"}
	}
	left := s.opts.CertNotAfter().Sub(s.now())
	days := int(left.Hours() / 24)
	if days < s.opts.CertMinDays {
		return checkResult{Name: "certificate", Detail: fmt.Sprintf("expires in %d days (minimum %d)", days, s.opts.CertMinDays)}
	}
	return checkResult{Name: "certificate", OK: true, Detail: fmt.Sprintf("expires in %d days", days)}
}

func (s *Server) checkAuditFile() checkResult {
	if s.opts.AuditFile == "" {
		return checkResult{Name: "audit_file", Detail: "audit.file is not set"}
	}
	f, err := os.OpenFile(s.opts.AuditFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return checkResult{Name: "audit_file", Detail: "not writable"}
	}
	f.Close()
	return checkResult{Name: "audit_file", OK: true}
}

// handleMetrics serves Prometheus on the main listener to loopback and the
// configured scrape networks only.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.internal(r) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such route")
		return
	}
	s.metricsHandler.ServeHTTP(w, r)
}
