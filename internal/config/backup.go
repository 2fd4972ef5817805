package config

import (
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// BackupConfig configures the backup commands: named sources and
// repositories, encryption, retention, metrics and failure notifications.
type BackupConfig struct {
	// Repository is the default repository of every backup command: a name
	// from Repositories or a URL (s3://bucket/prefix, file:///path).
	Repository string `mapstructure:"repository" json:"repository"`
	// Recipients are the age public keys (age1...) backups are encrypted to.
	Recipients []string `mapstructure:"recipients" json:"recipients"`
	// RecipientsFile holds more recipients, one per line.
	RecipientsFile string `mapstructure:"recipients_file" json:"recipients_file"`
	// Identity is the age identity (AGE-SECRET-KEY-1...) that verify and
	// restore decrypt with; it never belongs on the host that writes backups.
	Identity Secret `mapstructure:"identity" json:"identity"`
	// Passphrase encrypts `backup run --passphrase` backups (age scrypt) and
	// decrypts them in verify and restore.
	Passphrase Secret `mapstructure:"passphrase" json:"passphrase"`
	// AllowUnencrypted permits `backup run --unencrypted`.
	AllowUnencrypted bool `mapstructure:"allow_unencrypted" json:"allow_unencrypted"`
	// CompressionLevel is the zstd level, 1 to 22.
	CompressionLevel int `mapstructure:"compression_level" json:"compression_level"`
	// StagingDir is where formats that need local disk are staged ("": the
	// system's temporary directory).
	StagingDir string `mapstructure:"staging_dir" json:"staging_dir"`
	// LogFile, when set, receives one JSON line per run.
	LogFile string `mapstructure:"log_file" json:"log_file"`

	Sources      map[string]BackupSource     `mapstructure:"sources" json:"sources"`
	Repositories map[string]BackupRepository `mapstructure:"repositories" json:"repositories"`
	Retention    BackupRetention             `mapstructure:"retention" json:"retention"`
	Metrics      BackupMetrics               `mapstructure:"metrics" json:"metrics"`
	Notify       BackupNotify                `mapstructure:"notify" json:"notify"`
}

// BackupSource is a named source: a PostgreSQL database, the embedded store
// or a directory.
type BackupSource struct {
	// Kind is postgres, embedded or directory.
	Kind string `mapstructure:"kind" json:"kind"`
	// URL is the PostgreSQL URL (a secret: it may hold a password).
	URL Secret `mapstructure:"url" json:"url"`
	// Path is the directory (directory) or the SQLite file (embedded;
	// empty: the store in data_dir).
	Path string `mapstructure:"path" json:"path"`
	// Format is pg_dump's format: custom (default) or directory.
	Format string `mapstructure:"format" json:"format"`
	// Jobs is pg_dump --jobs (directory format only).
	Jobs int `mapstructure:"jobs" json:"jobs"`
}

// BackupRepository is a named repository and how to reach it.
type BackupRepository struct {
	URL          string `mapstructure:"url" json:"url"`
	Region       string `mapstructure:"region" json:"region"`
	Endpoint     string `mapstructure:"endpoint" json:"endpoint"`
	PathStyle    bool   `mapstructure:"path_style" json:"path_style"`
	StorageClass string `mapstructure:"storage_class" json:"storage_class"`
	SSE          string `mapstructure:"sse" json:"sse"`
	SSEKMSKeyID  string `mapstructure:"sse_kms_key_id" json:"sse_kms_key_id"`
	// AccessKeyID and SecretAccessKey are secrets; empty: the default AWS
	// credential chain (environment, ~/.aws, instance role).
	AccessKeyID     Secret `mapstructure:"access_key_id" json:"access_key_id"`
	SecretAccessKey Secret `mapstructure:"secret_access_key" json:"secret_access_key"`
	// MaxRetries of a request failing with a transient error: 0 the
	// default (5), negative none.
	MaxRetries int `mapstructure:"max_retries" json:"max_retries"`
}

// BackupRetention is the default policy of `backup prune`.
type BackupRetention struct {
	KeepLast    int `mapstructure:"keep_last" json:"keep_last"`
	KeepDays    int `mapstructure:"keep_days" json:"keep_days"`
	KeepDaily   int `mapstructure:"keep_daily" json:"keep_daily"`
	KeepWeekly  int `mapstructure:"keep_weekly" json:"keep_weekly"`
	KeepMonthly int `mapstructure:"keep_monthly" json:"keep_monthly"`
}

// BackupMetrics says where `backup run` reports its metrics.
type BackupMetrics struct {
	// Textfile is a node_exporter textfile collector file (*.prom).
	Textfile string `mapstructure:"textfile" json:"textfile"`
	// Pushgateway is a Prometheus Pushgateway base URL.
	Pushgateway string `mapstructure:"pushgateway" json:"pushgateway"`
}

// BackupNotify says who hears about a failed run.
type BackupNotify struct {
	// SlackWebhook is a Slack incoming-webhook URL (a secret).
	SlackWebhook Secret      `mapstructure:"slack_webhook" json:"slack_webhook"`
	Email        BackupEmail `mapstructure:"email" json:"email"`
}

// BackupEmail sends failure mail through an SMTP server with STARTTLS (or
// implicit TLS on port 465).
type BackupEmail struct {
	SMTPAddr string   `mapstructure:"smtp_addr" json:"smtp_addr"`
	From     string   `mapstructure:"from" json:"from"`
	To       []string `mapstructure:"to" json:"to"`
	Username string   `mapstructure:"username" json:"username"`
	Password Secret   `mapstructure:"password" json:"password"`
}

// Enabled reports whether failure mail is configured.
func (e BackupEmail) Enabled() bool { return e.SMTPAddr != "" || e.From != "" || len(e.To) > 0 }

// The source kinds of backup.sources.
var BackupSourceKinds = []string{"postgres", "embedded", "directory"}

// Fields of backup.sources.NAME and backup.repositories.NAME, for unknown-key
// errors (viper accepts anything under a map).
var (
	backupSourceFields = []string{"kind", "url", "path", "format", "jobs"}
	backupRepoFields   = []string{"url", "region", "endpoint", "path_style", "storage_class", "sse", "sse_kms_key_id",
		"access_key_id", "secret_access_key", "max_retries"}
	backupNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// backupKeys declares the backup.* keys.
func backupKeys() []Key {
	return []Key{
		{Name: "backup.repository", Default: "", Doc: "Default repository of the backup commands: a name from backup.repositories or a URL (s3://bucket/prefix, file:///path)."},
		{Name: "backup.recipients", Default: []string{}, Doc: "age public keys (age1...) every backup is encrypted to."},
		{Name: "backup.recipients_file", Default: "", Doc: "File of more age recipients, one per line ('#' comments)."},
		{Name: "backup.identity", Default: "", Secret: true, Doc: "age identity (AGE-SECRET-KEY-1...) verify and restore decrypt with (a secret; file:PATH). Never on the host that writes backups."},
		{Name: "backup.passphrase", Default: "", Secret: true, Doc: "age passphrase (scrypt) of `backup run --passphrase`, and for verify and restore of such backups (a secret; file:PATH, env:NAME). A host that can write these backups can read them: prefer recipients."},
		{Name: "backup.allow_unencrypted", Default: false, Doc: "Allow `backup run --unencrypted`. Off: every backup is encrypted."},
		{Name: "backup.compression_level", Default: 3, Doc: "zstd level of new backups, 1 (fastest) to 22 (smallest)."},
		{Name: "backup.staging_dir", Default: "", Doc: "Where formats that need local disk are staged (pg_dump directory format, its restores). Empty: the system's temporary directory."},
		{Name: "backup.log_file", Default: "", Doc: "Append one JSON line per `backup run` (success or failure) to this file."},
		{Name: "backup.sources", Default: map[string]any{}, Map: true, SecretFields: []string{"url"},
			Doc: "Named sources: NAME: {kind: postgres|embedded|directory, url (postgres, a secret), path, format, jobs}."},
		{Name: "backup.repositories", Default: map[string]any{}, Map: true, SecretFields: []string{"access_key_id", "secret_access_key"},
			Doc: "Named repositories: NAME: {url, region, endpoint, path_style, storage_class, sse, sse_kms_key_id, access_key_id, secret_access_key (secrets), max_retries}."},
		{Name: "backup.retention.keep_last", Default: 0, Doc: "`backup prune` keeps the N newest complete backups."},
		{Name: "backup.retention.keep_days", Default: 30, Doc: "`backup prune` keeps every complete backup younger than N days."},
		{Name: "backup.retention.keep_daily", Default: 0, Doc: "`backup prune` keeps the newest backup of each of the last N days that have one."},
		{Name: "backup.retention.keep_weekly", Default: 0, Doc: "... of each of the last N ISO weeks."},
		{Name: "backup.retention.keep_monthly", Default: 0, Doc: "... of each of the last N months."},
		{Name: "backup.metrics.textfile", Default: "", Doc: "node_exporter textfile collector file `backup run` writes its metrics to (atomically)."},
		{Name: "backup.metrics.pushgateway", Default: "", Doc: "Prometheus Pushgateway URL `backup run` pushes its metrics to."},
		{Name: "backup.notify.slack_webhook", Default: "", Secret: true, Doc: "Slack incoming-webhook URL told about failed runs (a secret)."},
		{Name: "backup.notify.email.smtp_addr", Default: "", Doc: "SMTP server HOST:PORT for failure mail (STARTTLS required; implicit TLS on port 465)."},
		{Name: "backup.notify.email.from", Default: "", Doc: "Sender of failure mail."},
		{Name: "backup.notify.email.to", Default: []string{}, Doc: "Recipients of failure mail."},
		{Name: "backup.notify.email.username", Default: "", Doc: "SMTP user name; empty: no authentication."},
		{Name: "backup.notify.email.password", Default: "", Secret: true, Doc: "SMTP password (a secret)."},
	}
}

// validateBackup checks the backup.* keys that need no domain package; the
// commands parse recipients and open repositories.
func (c *Config) validateBackup(add func(key, format string, args ...any)) {
	b := &c.Backup
	for _, name := range sortedKeys(b.Sources) {
		s := b.Sources[name]
		key := "backup.sources." + name
		if !backupNameRE.MatchString(name) {
			add(key, "%q is not a source name: 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
		switch s.Kind {
		case "postgres":
			if !s.URL.IsSet() {
				add(key+".url", "a postgres source needs url (a secret: the URL, file:PATH or env:NAME)")
			}
			if s.Path != "" {
				add(key+".path", "a postgres source has a url, not a path")
			}
		case "directory":
			if s.Path == "" {
				add(key+".path", "a directory source needs path")
			}
		case "embedded":
		case "":
			add(key+".kind", "missing: use one of %s", strings.Join(BackupSourceKinds, ", "))
		default:
			add(key+".kind", "%q is not a source kind: use one of %s", s.Kind, strings.Join(BackupSourceKinds, ", "))
		}
		if s.Kind != "postgres" && s.URL.IsSet() {
			add(key+".url", "only postgres sources have a url; a %s source has a path", s.Kind)
		}
		if err := s.URL.Check(); err != nil {
			add(key+".url", "%v", err)
		}
		switch s.Format {
		case "", "custom":
			if s.Jobs > 1 {
				add(key+".jobs", "parallel dumps need format: directory")
			}
		case "directory":
			if s.Kind != "postgres" {
				add(key+".format", "only postgres sources have a format")
			}
		default:
			add(key+".format", "%q is not a pg_dump format: use custom or directory", s.Format)
		}
		if s.Jobs < 0 {
			add(key+".jobs", "must not be negative, got %d", s.Jobs)
		}
	}
	for _, name := range sortedKeys(b.Repositories) {
		r := b.Repositories[name]
		key := "backup.repositories." + name
		if !backupNameRE.MatchString(name) {
			add(key, "%q is not a repository name: letters, digits, '.', '_' or '-'", name)
		}
		u, err := url.Parse(r.URL)
		switch {
		case r.URL == "":
			add(key+".url", "missing: s3://bucket/prefix or file:///path")
		case err != nil || (u.Scheme != "s3" && u.Scheme != "file"):
			add(key+".url", "%q is not a repository URL: use s3://bucket/prefix or file:///path", redactURL(r.URL))
		case u.User != nil:
			add(key+".url", "credentials do not belong in the URL: set access_key_id and secret_access_key (secrets)")
		case u.Scheme == "file" && (r.Endpoint != "" || r.Region != "" || r.AccessKeyID.IsSet()):
			add(key, "region, endpoint and credentials are for s3:// repositories")
		}
		if r.Endpoint != "" {
			if e, err := url.Parse(r.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil {
				add(key+".endpoint", "%q is not an endpoint URL: use https://host[:port] (credentials go in access_key_id and secret_access_key)", redactURL(r.Endpoint))
			}
		}
		if r.AccessKeyID.IsSet() != r.SecretAccessKey.IsSet() {
			add(key+".access_key_id", "access_key_id and secret_access_key go together: set both, or neither for the AWS credential chain")
		}
		for field, s := range map[string]Secret{"access_key_id": r.AccessKeyID, "secret_access_key": r.SecretAccessKey} {
			if err := s.Check(); err != nil {
				add(key+"."+field, "%v", err)
			}
		}
		if !slices.Contains([]string{"", "AES256", "aws:kms", "aws:kms:dsse"}, r.SSE) {
			add(key+".sse", "%q is not a server-side encryption: use AES256, aws:kms or aws:kms:dsse", r.SSE)
		}
		if r.SSEKMSKeyID != "" && !strings.HasPrefix(r.SSE, "aws:kms") {
			add(key+".sse_kms_key_id", "a KMS key needs sse: aws:kms")
		}
	}
	// viper takes anything under a map: name typos here, or they would be
	// silently ignored (a misspelt secret_access_key falls back to the AWS
	// chain, a misspelt path backs up the wrong thing).
	for k, src := range c.sources {
		for prefix, fields := range map[string][]string{"backup.sources.": backupSourceFields, "backup.repositories.": backupRepoFields} {
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok || !strings.HasPrefix(src, "file ") {
				continue
			}
			if _, field, ok := strings.Cut(rest, "."); ok && !slices.Contains(fields, field) {
				add(k, "unknown key: use %s", strings.Join(fields, ", "))
			}
		}
	}
	for _, r := range b.Recipients {
		if strings.HasPrefix(r, "AGE-SECRET-KEY-") {
			add("backup.recipients", "holds a secret identity (AGE-SECRET-KEY-...): list public keys (age1...) only, and keep the identity off this host")
		} else if !strings.HasPrefix(r, "age1") {
			add("backup.recipients", "%q is not an age recipient (age1...)", r)
		}
	}
	if err := b.Identity.Check(); err != nil {
		add("backup.identity", "%v", err)
	}
	if err := b.Passphrase.Check(); err != nil {
		add("backup.passphrase", "%v", err)
	}
	if b.CompressionLevel < 1 || b.CompressionLevel > 22 {
		add("backup.compression_level", "must be from 1 to 22, got %d", b.CompressionLevel)
	}
	ret := b.Retention
	for key, n := range map[string]int{"keep_last": ret.KeepLast, "keep_days": ret.KeepDays, "keep_daily": ret.KeepDaily,
		"keep_weekly": ret.KeepWeekly, "keep_monthly": ret.KeepMonthly} {
		if n < 0 {
			add("backup.retention."+key, "must not be negative, got %d", n)
		}
	}
	if p := b.Metrics.Pushgateway; p != "" {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			add("backup.metrics.pushgateway", "%q is not a Pushgateway URL: use http(s)://host:9091", redactURL(p))
		}
	}
	if err := b.Notify.SlackWebhook.Check(); err != nil {
		add("backup.notify.slack_webhook", "%v", err)
	}
	if e := b.Notify.Email; e.Enabled() {
		if _, port, err := net.SplitHostPort(e.SMTPAddr); err != nil || port == "" {
			add("backup.notify.email.smtp_addr", "%q is not HOST:PORT (as in smtp.example.com:587)", e.SMTPAddr)
		}
		if _, err := mail.ParseAddress(e.From); err != nil {
			add("backup.notify.email.from", "%q is not an e-mail address", e.From)
		}
		if len(e.To) == 0 {
			add("backup.notify.email.to", "no recipients: list at least one address")
		}
		for _, to := range e.To {
			if _, err := mail.ParseAddress(to); err != nil {
				add("backup.notify.email.to", "%q is not an e-mail address", to)
			}
		}
		if e.Password.IsSet() && e.Username == "" {
			add("backup.notify.email.username", "a password needs a user name")
		}
		if err := e.Password.Check(); err != nil {
			add("backup.notify.email.password", "%v", err)
		}
	}
}

// resolveBackupPaths makes the backup paths and file: secrets given in the
// config file relative to its directory.
func (c *Config) resolveBackupPaths(rel func(key string, p *string)) {
	b := &c.Backup
	rel("backup.recipients_file", &b.RecipientsFile)
	rel("backup.staging_dir", &b.StagingDir)
	rel("backup.log_file", &b.LogFile)
	rel("backup.metrics.textfile", &b.Metrics.Textfile)
	secret := func(key string, s *Secret) {
		if s.Reference() != "file" {
			return
		}
		p := strings.TrimPrefix(string(*s), "file:")
		rel(key, &p)
		*s = Secret("file:" + p)
	}
	secret("backup.identity", &b.Identity)
	secret("backup.passphrase", &b.Passphrase)
	secret("backup.notify.slack_webhook", &b.Notify.SlackWebhook)
	secret("backup.notify.email.password", &b.Notify.Email.Password)
	for name, s := range b.Sources {
		rel("backup.sources."+name+".path", &s.Path)
		secret("backup.sources."+name+".url", &s.URL)
		b.Sources[name] = s
	}
	for name, r := range b.Repositories {
		secret("backup.repositories."+name+".access_key_id", &r.AccessKeyID)
		secret("backup.repositories."+name+".secret_access_key", &r.SecretAccessKey)
		b.Repositories[name] = r
	}
}

// redactURL hides a password in a URL quoted in an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "…" + s[i:]
		}
		return s
	}
	return u.Redacted()
}
