package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// OutputFormats are the values accepted for output.
var OutputFormats = []string{"table", "json", "yaml", "ndjson"}

// CheckSeverities are the values accepted in alerts.checks.
var CheckSeverities = []string{"off", "warning", "error"}

func (c *Config) validate() *Errors {
	var errs Errors
	add := func(key, format string, args ...any) {
		errs = append(errs, Error{Key: key, Source: c.Source(key), Msg: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(OutputFormats, c.Output) {
		add("output", "%q is not an output format: use one of %s", c.Output, strings.Join(OutputFormats, ", "))
	}
	if c.Verbose && c.Quiet {
		// A flag beats a setting from elsewhere (cobra refuses both flags).
		switch {
		case strings.HasPrefix(c.Source("quiet"), "flag "):
			c.Verbose = false
		case strings.HasPrefix(c.Source("verbose"), "flag "):
			c.Quiet = false
		default:
			add("quiet", "quiet and verbose cannot both be set")
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	} else if err := c.absDataDir(); err != nil {
		add("data_dir", "%v", err)
	}
	if err := c.Database.URL.Check(); err != nil {
		add("database.url", "%v", err)
	}
	c.validateServe(add)
	c.validateBackup(add)
	if err := c.Redis.URL.Check(); err != nil {
		add("redis.url", "%v", err)
	}
	if err := c.Auth.KeyEncryptionKey.Check(); err != nil {
		add("auth.key_encryption_key", "%v", err)
	}
	if c.Alerts.ScrapeInterval <= 0 {
		add("alerts.scrape_interval", "must be a positive duration, got %s", c.Alerts.ScrapeInterval)
	}
	for _, name := range sortedKeys(c.Alerts.RequiredLabels) {
		if !labelNameRE.MatchString(name) {
			add("alerts.required_labels."+name, "%q is not a valid label name", name)
		}
	}
	for _, name := range c.Alerts.RequiredAnnotations {
		if !labelNameRE.MatchString(name) {
			add("alerts.required_annotations", "%q is not a valid annotation name", name)
		}
	}
	for _, name := range sortedKeys(c.Alerts.Checks) {
		if !slices.Contains(CheckSeverities, c.Alerts.Checks[name]) {
			add("alerts.checks."+name, "%q is not a severity: use one of %s", c.Alerts.Checks[name], strings.Join(CheckSeverities, ", "))
		}
	}
	if len(errs) > 0 {
		return &errs
	}
	return nil
}

// SameSiteModes are the values accepted for auth.same_site.
var SameSiteModes = []string{"strict", "lax"}

func (c *Config) validateServe(add func(key, format string, args ...any)) {
	addr := func(key, v string, required bool) {
		if v == "" {
			if required {
				add(key, "must not be empty: give HOST:PORT, as in 127.0.0.1:8443")
			}
			return
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			add(key, "%q is not HOST:PORT: %v", v, err)
			return
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add(key, "%q: port %q is not a number from 0 to 65535", v, port)
		}
		_ = host
	}
	addr("server.listen", c.Server.Listen, true)
	addr("server.redirect_listen", c.Server.RedirectListen, false)
	addr("server.metrics_listen", c.Server.MetricsListen, false)
	networks := func(key string, list []string) {
		for _, n := range list {
			if _, err := netip.ParsePrefix(n); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(n); err == nil {
				continue
			}
			add(key, "%q is not an address or a network in CIDR form (10.0.0.0/8)", n)
		}
	}
	networks("server.metrics_networks", c.Server.MetricsNetworks)
	networks("server.trusted_proxies", c.Server.TrustedProxies)
	networks("ratelimit.allow_list", c.RateLimit.AllowList)
	if (c.Server.TLS.CertFile == "") != (c.Server.TLS.KeyFile == "") {
		add("server.tls.cert_file", "server.tls.cert_file and server.tls.key_file go together: set both, or neither for a self-signed certificate")
	}
	for _, o := range c.Server.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			add("server.cors_origins", "%q is not an origin: write scheme://host[:port], as in https://app.example.com", o)
		}
	}
	if c.Server.MaxBodyBytes <= 0 {
		add("server.max_body_bytes", "must be a positive number of bytes, got %d", c.Server.MaxBodyBytes)
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be a positive duration, got %s", d)
		}
	}
	t := c.Server.Timeouts
	positive("server.timeouts.read_header", t.ReadHeader)
	positive("server.timeouts.read", t.Read)
	positive("server.timeouts.write", t.Write)
	positive("server.timeouts.idle", t.Idle)
	positive("server.timeouts.handler", t.Handler)
	positive("server.timeouts.shutdown", t.Shutdown)
	positive("auth.access_ttl", c.Auth.AccessTTL)
	positive("auth.refresh_ttl", c.Auth.RefreshTTL)
	if c.Auth.RefreshTTL > 0 && c.Auth.AccessTTL > c.Auth.RefreshTTL {
		add("auth.access_ttl", "%s is longer than auth.refresh_ttl (%s)", c.Auth.AccessTTL, c.Auth.RefreshTTL)
	}
	if c.Auth.BcryptCost < 10 || c.Auth.BcryptCost > 31 {
		add("auth.bcrypt_cost", "must be from 10 to 31, got %d", c.Auth.BcryptCost)
	}
	if strings.TrimSpace(c.Auth.Issuer) == "" {
		add("auth.issuer", "must not be empty")
	}
	if !slices.Contains(SameSiteModes, c.Auth.SameSite) {
		add("auth.same_site", "%q is not a SameSite mode: use strict or lax", c.Auth.SameSite)
	}
	if c.Auth.Lockout.Threshold < 1 {
		add("auth.lockout.threshold", "must be at least 1, got %d", c.Auth.Lockout.Threshold)
	}
	positive("auth.lockout.duration", c.Auth.Lockout.Duration)
	positive("auth.lockout.window", c.Auth.Lockout.Window)
	positive("auth.lockout.forget_after", c.Auth.Lockout.ForgetAfter)
	if c.Auth.Lockout.Max < c.Auth.Lockout.Duration {
		add("auth.lockout.max", "%s is shorter than auth.lockout.duration (%s)", c.Auth.Lockout.Max, c.Auth.Lockout.Duration)
	}
	if c.RateLimit.BlockAfter < 0 {
		add("ratelimit.block_after", "must be 0 (never block) or more, got %d", c.RateLimit.BlockAfter)
	}
	if c.RateLimit.BlockAfter > 0 {
		positive("ratelimit.block_for", c.RateLimit.BlockFor)
	}
	for _, b := range c.Health.Business {
		if !slices.Contains(BusinessChecks, b) {
			add("health.business", "%q is not a check: use %s", b, strings.Join(BusinessChecks, ", "))
		}
	}
	for _, cl := range c.RateLimit.FailClosed {
		if !slices.Contains([]string{"general", "api", "auth"}, cl) {
			add("ratelimit.fail_closed", "%q is not a route class: use general, api or auth", cl)
		}
	}
	if r := c.Tracing.SampleRatio; math.IsNaN(r) || r < 0 || r > 1 {
		add("tracing.sample_ratio", "must be from 0 to 1, got %g", c.Tracing.SampleRatio)
	}
	c.validateTracingEndpoint(add)
	if c.Health.CertMinDays < 0 {
		add("health.cert_min_days", "must not be negative, got %d", c.Health.CertMinDays)
	}
}

// validateTracingEndpoint checks tracing.endpoint as internal/tracing will
// take it. The value is echoed only without user info and query, where a
// token could hide.
func (c *Config) validateTracingEndpoint(add func(key, format string, args ...any)) {
	const hint = "write http(s)://HOST:PORT[/PATH], as in http://127.0.0.1:4318"
	if c.Tracing.Endpoint == "" {
		return
	}
	u, err := url.Parse(c.Tracing.Endpoint)
	switch {
	case err != nil:
		add("tracing.endpoint", "is not a URL: %s", hint)
	case u.User != nil:
		add("tracing.endpoint", "must not carry credentials: give the collector's token in OTEL_EXPORTER_OTLP_HEADERS (e.g. authorization=Bearer%%20TOKEN)")
	case u.RawQuery != "" || u.Fragment != "":
		add("tracing.endpoint", "must not have a query or fragment: %s", hint)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		add("tracing.endpoint", "%q is not an http(s) URL: %s", u.String(), hint)
	}
}

// BusinessChecks are the checks health.business may list.
var BusinessChecks = []string{"admin", "certificate", "audit_file"}

// Invalid returns an *Errors for key whose value the caller found invalid,
// naming the value's source; commands use it for checks that need a domain
// package (such as known check names).
func (c *Config) Invalid(key, format string, args ...any) error {
	return &Errors{{Key: key, Source: c.Source(key), Msg: fmt.Sprintf(format, args...)}}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
