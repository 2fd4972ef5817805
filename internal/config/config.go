// Package config holds repairxctl's typed configuration, how it is loaded
// (flags > REPAIRX_* environment > config file > defaults, through one viper
// instance per load) and how it is validated.
//
// Every key is declared once in Keys with its default and documentation;
// the example file written by `config init`, the environment variable names
// in flag help, and `config show` all come from that table.
package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the decoded, validated configuration shared by every command.
type Config struct {
	// DataDir holds the embedded store, the local secret store and run state.
	DataDir string `mapstructure:"data_dir"`
	// Output is the default output format: table, json, yaml or ndjson.
	Output  string `mapstructure:"output"`
	NoColor bool   `mapstructure:"no_color"`
	Verbose bool   `mapstructure:"verbose"`
	Quiet   bool   `mapstructure:"quiet"`

	Database  DatabaseConfig  `mapstructure:"database"`
	Redis     RedisConfig     `mapstructure:"redis"`
	Tracing   TracingConfig   `mapstructure:"tracing"`
	Server    ServerConfig    `mapstructure:"server"`
	Auth      AuthConfig      `mapstructure:"auth"`
	RateLimit RateLimitConfig `mapstructure:"ratelimit"`
	Audit     AuditConfig     `mapstructure:"audit"`
	Health    HealthConfig    `mapstructure:"health"`
	Alerts    AlertsConfig    `mapstructure:"alerts"`
	Backup    BackupConfig    `mapstructure:"backup"`

	// File is the config file that was read, or "" when none was.
	File string `mapstructure:"-"`
	// sources records where each key's value came from.
	sources map[string]string
}

// DatabaseConfig selects the shared PostgreSQL database used by serve, user,
// migrate and backup on several nodes. Empty means the embedded store.
type DatabaseConfig struct {
	URL Secret `mapstructure:"url"`
}

// RedisConfig selects the Redis shared by several serve nodes for rate
// limits, IP blocks and revoked sessions. Empty means in memory.
type RedisConfig struct {
	URL Secret `mapstructure:"url"`
}

// TracingConfig turns on OpenTelemetry tracing over OTLP/HTTP.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector URL; empty turns tracing off.
	Endpoint    string  `mapstructure:"endpoint"`
	SampleRatio float64 `mapstructure:"sample_ratio"`
}

// ServerConfig configures `serve`'s listeners, TLS and HTTP limits.
type ServerConfig struct {
	// Listen is the HTTPS address.
	Listen string `mapstructure:"listen"`
	// RedirectListen, when set, is a plain-HTTP address that only redirects
	// to HTTPS.
	RedirectListen string `mapstructure:"redirect_listen"`
	// InsecurePlainHTTP serves the API without TLS; refused unless Listen is
	// a loopback address.
	InsecurePlainHTTP bool `mapstructure:"insecure_plain_http"`
	// MetricsListen, when set, serves /api/metrics on its own plain-HTTP
	// listener (for a scraper on a private network) as well.
	MetricsListen string `mapstructure:"metrics_listen"`
	// MetricsNetworks may scrape /api/metrics on the main listener besides
	// loopback.
	MetricsNetworks []string  `mapstructure:"metrics_networks"`
	TLS             TLSConfig `mapstructure:"tls"`
	// TrustedProxies are the proxies (NGINX) whose X-Forwarded-For is
	// believed.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// CORSOrigins may call the API from a browser with credentials.
	CORSOrigins  []string       `mapstructure:"cors_origins"`
	MaxBodyBytes int64          `mapstructure:"max_body_bytes"`
	Timeouts     ServerTimeouts `mapstructure:"timeouts"`
}

// TLSConfig names the certificate; empty files mean a self-signed pair
// generated into the data directory.
type TLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Hosts are extra names and addresses for the self-signed certificate.
	Hosts []string `mapstructure:"hosts"`
}

// ServerTimeouts bound every phase of a request and the shutdown.
type ServerTimeouts struct {
	ReadHeader time.Duration `mapstructure:"read_header"`
	Read       time.Duration `mapstructure:"read"`
	Write      time.Duration `mapstructure:"write"`
	Idle       time.Duration `mapstructure:"idle"`
	Handler    time.Duration `mapstructure:"handler"`
	Shutdown   time.Duration `mapstructure:"shutdown"`
}

// AuthConfig configures logins, tokens, cookies, 2FA and lockouts.
type AuthConfig struct {
	AccessTTL  time.Duration `mapstructure:"access_ttl"`
	RefreshTTL time.Duration `mapstructure:"refresh_ttl"`
	BcryptCost int           `mapstructure:"bcrypt_cost"`
	Issuer     string        `mapstructure:"issuer"`
	// SameSite is the cookies' SameSite mode: strict or lax.
	SameSite string        `mapstructure:"same_site"`
	Lockout  LockoutConfig `mapstructure:"lockout"`
	// KeyEncryptionKey seals the key ring kept in a shared database.
	KeyEncryptionKey Secret `mapstructure:"key_encryption_key"`
	// TwoFactorRoles must enrol in TOTP before they reach anything else.
	TwoFactorRoles []string `mapstructure:"two_factor_roles"`
}

// LockoutConfig is the brute-force lockout.
type LockoutConfig struct {
	Threshold int           `mapstructure:"threshold"`
	Duration  time.Duration `mapstructure:"duration"`
	Max       time.Duration `mapstructure:"max"`
	// Window forgets a failure this long after the previous one.
	Window time.Duration `mapstructure:"window"`
	// ForgetAfter forgets earlier lockouts this long after the last ended.
	ForgetAfter time.Duration `mapstructure:"forget_after"`
}

// RateLimitConfig holds the per-IP and per-user limits and the auto-block.
type RateLimitConfig struct {
	Global string `mapstructure:"global"`
	API    string `mapstructure:"api"`
	Auth   string `mapstructure:"auth"`
	User   string `mapstructure:"user"`
	// BlockAfter consecutive violations block an IP for BlockFor.
	BlockAfter int           `mapstructure:"block_after"`
	BlockFor   time.Duration `mapstructure:"block_for"`
	// AllowList networks are exempt from limits and blocks.
	AllowList []string `mapstructure:"allow_list"`
	// FailClosed lists the route classes refused (503) while the limiter's
	// backend fails; the others pass unchecked.
	FailClosed []string `mapstructure:"fail_closed"`
}

// AuditConfig says where audit events go besides the store.
type AuditConfig struct {
	// File, when set, receives each event as a JSON line.
	File string `mapstructure:"file"`
}

// HealthConfig configures /api/health/business.
type HealthConfig struct {
	// Business lists the checks: admin, certificate, audit_file.
	Business []string `mapstructure:"business"`
	// CertMinDays is how many days the certificate must still be valid.
	CertMinDays int `mapstructure:"cert_min_days"`
}

// AlertsConfig configures `alerts validate`.
type AlertsConfig struct {
	// ScrapeInterval is the Prometheus scrape interval the rules run under;
	// rate() ranges shorter than twice this are flagged.
	ScrapeInterval time.Duration `mapstructure:"scrape_interval"`
	// RequiredLabels maps a label every alert must carry to its allowed
	// values (an empty list allows any value).
	RequiredLabels map[string][]string `mapstructure:"required_labels"`
	// RequiredAnnotations lists annotations every alert must carry.
	RequiredAnnotations []string `mapstructure:"required_annotations"`
	// Checks overrides a check's severity: off, warning or error.
	Checks map[string]string `mapstructure:"checks"`
	// Policy is a file of alerts that must exist.
	Policy string `mapstructure:"policy"`
}

// Source describes where key's value came from: "flag --name",
// "env REPAIRX_NAME", "file PATH" or "default".
func (c *Config) Source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	for k := key; k != ""; {
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
		if s, ok := c.sources[k]; ok {
			return s
		}
	}
	return "default"
}

// Key describes one configuration key.
type Key struct {
	Name    string // dotted key, as in the config file
	Default any
	Doc     string
	Secret  bool // value is a Secret: never a flag, redacted when shown
	Map     bool // value is a map whose sub-keys are free-form
	// SecretFields name the fields of a Map's entries that hold secrets
	// (NAME.url under backup.sources), redacted in error messages.
	SecretFields []string
}

// EnvName returns the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// EnvPrefix prefixes every environment variable repairxctl reads.
const EnvPrefix = "REPAIRX"

// Keys returns every configuration key with its default. dataDir is the
// default data directory (see DefaultDataDir).
func Keys(dataDir string) []Key {
	return append([]Key{
		{Name: "data_dir", Default: dataDir, Doc: "Where the embedded store, the local secret store and run state live."},
		{Name: "output", Default: "table", Doc: "Default output format: table, json or yaml (ndjson where a command streams rows)."},
		{Name: "no_color", Default: false, Doc: "Disable colour even on a terminal (NO_COLOR is honoured too)."},
		{Name: "verbose", Default: false, Doc: "Log more detail to stderr."},
		{Name: "quiet", Default: false, Doc: "Print nothing but results and errors."},
		{Name: "database.url", Default: "", Secret: true, Doc: "PostgreSQL URL shared by several serve nodes (a secret: value, file:PATH or env:NAME). Empty: the embedded store."},
		{Name: "redis.url", Default: "", Secret: true, Doc: "Redis shared by several serve nodes for rate limits, IP blocks and revoked sessions (a secret). Empty: in memory."},
		{Name: "tracing.endpoint", Default: "", Doc: "OpenTelemetry OTLP/HTTP collector URL, as http://127.0.0.1:4318. Empty: tracing off."},
		{Name: "tracing.sample_ratio", Default: 1.0, Doc: "Share of new traces recorded, from 0 to 1; a request whose traceparent says sampled is always traced."},
		{Name: "server.listen", Default: "127.0.0.1:8443", Doc: "HTTPS address serve listens on (TLS 1.3 only)."},
		{Name: "server.redirect_listen", Default: "", Doc: "Plain-HTTP address that only redirects to HTTPS; empty: none."},
		{Name: "server.insecure_plain_http", Default: false, Doc: "Serve plain HTTP instead of HTTPS; refused unless server.listen is a loopback address."},
		{Name: "server.metrics_listen", Default: "", Doc: "Separate plain-HTTP address serving only /api/metrics; empty: none."},
		{Name: "server.metrics_networks", Default: []string{}, Doc: "Networks (CIDRs) that may scrape /api/metrics on the main listener, besides loopback."},
		{Name: "server.tls.cert_file", Default: "", Doc: "TLS certificate (PEM); reloaded when it changes. Empty: a self-signed one in data_dir."},
		{Name: "server.tls.key_file", Default: "", Doc: "TLS private key (PEM) matching server.tls.cert_file."},
		{Name: "server.tls.hosts", Default: []string{}, Doc: "Extra host names and addresses for the self-signed certificate."},
		{Name: "server.trusted_proxies", Default: []string{}, Doc: "Proxies (CIDRs) whose X-Forwarded-For is believed, such as NGINX in front."},
		{Name: "server.cors_origins", Default: []string{}, Doc: "Browser origins allowed to call the API with credentials (exact, as https://app.example.com)."},
		{Name: "server.max_body_bytes", Default: int64(65536), Doc: "Largest request body accepted, in bytes."},
		{Name: "server.timeouts.read_header", Default: 5 * time.Second, Doc: "Time allowed to read a request's headers."},
		{Name: "server.timeouts.read", Default: 15 * time.Second, Doc: "Time allowed to read a whole request."},
		{Name: "server.timeouts.write", Default: 30 * time.Second, Doc: "Time allowed to write a response."},
		{Name: "server.timeouts.idle", Default: 2 * time.Minute, Doc: "How long an idle keep-alive connection stays open."},
		{Name: "server.timeouts.handler", Default: 10 * time.Second, Doc: "Time a handler may take before the request is answered 503."},
		{Name: "server.timeouts.shutdown", Default: 30 * time.Second, Doc: "Time in-flight requests get to finish after SIGTERM."},
		{Name: "auth.access_ttl", Default: 15 * time.Minute, Doc: "Lifetime of a JWT access token."},
		{Name: "auth.refresh_ttl", Default: 7 * 24 * time.Hour, Doc: "Lifetime of a refresh token (rotated on every use)."},
		{Name: "auth.bcrypt_cost", Default: 12, Doc: "bcrypt cost for new password hashes (at least 10)."},
		{Name: "auth.issuer", Default: "repairxctl", Doc: "JWT issuer and audience, and the TOTP issuer shown in authenticator apps."},
		{Name: "auth.same_site", Default: "strict", Doc: "SameSite mode of the session cookies: strict or lax."},
		{Name: "auth.lockout.threshold", Default: 5, Doc: "Failed logins in a row that lock an account."},
		{Name: "auth.lockout.duration", Default: 15 * time.Minute, Doc: "Length of the first lockout; each repeat doubles it."},
		{Name: "auth.lockout.max", Default: 24 * time.Hour, Doc: "Longest lockout."},
		{Name: "auth.lockout.window", Default: time.Hour, Doc: "A failure this long after the previous one starts the count again."},
		{Name: "auth.lockout.forget_after", Default: 24 * time.Hour, Doc: "Earlier lockouts are forgotten (the doubling restarts) this long after the last one ended."},
		{Name: "auth.key_encryption_key", Default: "", Secret: true, Doc: "32-byte key (base64) sealing the key ring kept in a shared database; needed with database.url (a secret)."},
		{Name: "auth.two_factor_roles", Default: []string{"admin", "owner"}, Doc: "Roles that reach nothing but 2FA setup until they enrol in TOTP."},
		{Name: "ratelimit.global", Default: "100/1m", Doc: "Requests per client IP, all routes: N/PERIOD, optionally followed by burst=B; off disables the tier."},
		{Name: "ratelimit.api", Default: "60/1m", Doc: "Requests per client IP to /api/v1."},
		{Name: "ratelimit.auth", Default: "5/15m", Doc: "Requests per client IP to login and refresh."},
		{Name: "ratelimit.user", Default: "300/1m", Doc: "Requests per signed-in user."},
		{Name: "ratelimit.block_after", Default: 5, Doc: "Consecutive rate-limit violations that block an IP (0: never block)."},
		{Name: "ratelimit.block_for", Default: time.Hour, Doc: "How long a blocked IP gets 403."},
		{Name: "ratelimit.allow_list", Default: []string{}, Doc: "Networks (CIDRs) exempt from rate limits and blocks. Empty: none, loopback included."},
		{Name: "ratelimit.fail_closed", Default: []string{"auth"}, Doc: "Route classes refused with 503 while the limiter's backend (Redis) fails: general, api, auth; the others pass unchecked."},
		{Name: "audit.file", Default: "", Doc: "Also append each audit event as a JSON line to this file (for a log shipper)."},
		{Name: "health.business", Default: []string{"admin", "certificate"}, Doc: "Checks of /api/health/business: admin, certificate, audit_file."},
		{Name: "health.cert_min_days", Default: 14, Doc: "Days the TLS certificate must still be valid for the certificate check."},
		{Name: "alerts.scrape_interval", Default: time.Minute, Doc: "Scrape interval the rules run under; rate() and increase() ranges shorter than twice this are flagged."},
		{Name: "alerts.required_labels", Default: map[string][]string{"severity": {"critical", "warning", "info"}}, Map: true, Doc: "Labels every alert must carry, each with its allowed values ([] allows any value)."},
		{Name: "alerts.required_annotations", Default: []string{"summary", "description", "runbook_url"}, Doc: "Annotations every alert must carry."},
		{Name: "alerts.checks", Default: map[string]string{}, Map: true, Doc: "Per-check severity overrides: off, warning or error (see `alerts validate --help`)."},
		{Name: "alerts.policy", Default: "", Doc: "A policy file listing alerts that must exist."},
	}, backupKeys()...)
}

// DefaultDataDir returns $XDG_DATA_HOME/repairxctl, falling back to
// ~/.local/share/repairxctl as the XDG base directory spec says.
func DefaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "repairxctl")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "repairxctl")
	}
	return filepath.Join(os.TempDir(), "repairxctl")
}

// SearchPaths returns the config files tried, in order, when --config is not
// given: ./repairxctl.yaml, $XDG_CONFIG_HOME/repairxctl/config.yaml (default
// ~/.config) and /etc/repairxctl/config.yaml.
func SearchPaths(getenv func(string) string) []string {
	paths := []string{"repairxctl.yaml"}
	cfgHome := getenv("XDG_CONFIG_HOME")
	if cfgHome == "" || !filepath.IsAbs(cfgHome) {
		if h := getenv("HOME"); h != "" {
			cfgHome = filepath.Join(h, ".config")
		}
	}
	if cfgHome != "" {
		paths = append(paths, filepath.Join(cfgHome, "repairxctl", "config.yaml"))
	}
	return append(paths, "/etc/repairxctl/config.yaml")
}
