package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus collectors, on a registry of their own
// (no global state, so tests run servers side by side).
type Metrics struct {
	Registry        *prometheus.Registry
	Requests        *prometheus.CounterVec
	Duration        *prometheus.HistogramVec
	InFlight        prometheus.Gauge
	Logins          *prometheus.CounterVec
	Lockouts        prometheus.Counter
	Violations      *prometheus.CounterVec
	Blocks          prometheus.Counter
	BlockedIPs      prometheus.GaugeFunc
	Attacks         *prometheus.CounterVec
	TokenReuse      prometheus.Counter
	AuditErrors     prometheus.Counter
	LimiterFailures prometheus.Counter
	blockedCount    func() float64
}

// NewMetrics registers the collectors and the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairx_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "repairx_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern, method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"})
	m.InFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "repairx_http_requests_in_flight",
		Help: "HTTP requests being answered.",
	})
	m.Logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairx_auth_logins_total",
		Help: "Login attempts by result: success, invalid_credentials, locked, disabled, second_factor_required, invalid_second_factor.",
	}, []string{"result"})
	m.Lockouts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairx_auth_lockouts_total",
		Help: "Accounts locked after repeated failed logins.",
	})
	m.Violations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairx_ratelimit_violations_total",
		Help: "Requests refused by a rate limit, by tier.",
	}, []string{"tier"})
	m.Blocks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairx_ratelimit_blocks_total",
		Help: "Client addresses blocked after repeated rate-limit violations.",
	})
	m.BlockedIPs = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "repairx_ratelimit_blocked_ips",
		Help: "Client addresses (or IPv6 prefixes) blocked now.",
	}, func() float64 {
		if m.blockedCount == nil {
			return 0
		}
		return m.blockedCount()
	})
	m.Attacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairx_security_attacks_blocked_total",
		Help: "Requests refused by the attack screen, by category.",
	}, []string{"category"})
	m.TokenReuse = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairx_auth_refresh_token_reuse_total",
		Help: "Spent refresh tokens presented again (the family is revoked).",
	})
	m.AuditErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairx_audit_write_errors_total",
		Help: "Audit events a sink failed to record.",
	})
	m.LimiterFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairx_ratelimit_backend_errors_total",
		Help: "Rate-limit backend failures (requests then fail open or closed by class).",
	})
	m.Registry.MustRegister(m.Requests, m.Duration, m.InFlight, m.Logins, m.Lockouts, m.Violations,
		m.Blocks, m.BlockedIPs, m.Attacks, m.TokenReuse, m.AuditErrors, m.LimiterFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetBlockedCount sets the function repairx_ratelimit_blocked_ips reads.
func (m *Metrics) SetBlockedCount(f func() float64) { m.blockedCount = f }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, Timeout: 10 * time.Second})
}

func (m *Metrics) observe(route, method string, code int, d time.Duration) {
	c := strconv.Itoa(code)
	m.Requests.WithLabelValues(route, method, c).Inc()
	m.Duration.WithLabelValues(route, method, c).Observe(d.Seconds())
}
