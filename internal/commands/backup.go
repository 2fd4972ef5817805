package commands

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
	"github.com/repairx/repairxctl/internal/version"
)

func newBackupCmd(f *Factory) *cobra.Command {
	cmd := groupCmd("backup <command>", "Make, list, verify, restore and prune encrypted backups", groupOperate)
	cmd.Long = `Back up PostgreSQL databases (pg_dump), the embedded store and data
directories into a repository, an S3 bucket (s3://bucket/prefix, any
S3-compatible server) or a directory (file:///path), and list, verify,
restore and prune them.

Every backup is streamed (dump -> zstd -> age -> upload) and encrypted to
age recipients: the host that writes backups holds only public keys
(age1...) and cannot read them; 'backup keygen' makes the key pair on a safe
host. A manifest with sizes and SHA-256 checksums is written last, so a
backup without one is incomplete and never restored. Two runs of one source
never overlap: the second exits 11.

Sources and repositories can be named in the config (backup.sources,
backup.repositories) or given as URLs. Database passwords and S3 keys are
never flag values: they come from config secrets (file:PATH, env:NAME),
PGPASSWORD or ~/.pgpass, and the AWS credential chain. See docs/backup.md
for the pipeline, key management, cron and systemd units, restore drills
and metrics.`
	cmd.AddCommand(
		newBackupKeygenCmd(f, nil),
		newBackupRunCmd(f, nil),
		newBackupListCmd(f, nil),
		newBackupVerifyCmd(f, nil),
		newBackupRestoreCmd(f, nil),
		newBackupPruneCmd(f, nil),
	)
	return cmd
}

// BackupOptions are the inputs every backup command shares.
type BackupOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
	Now     func() time.Time
	Build   version.Info
	// OpenRepo opens a repository; tests may wrap it.
	OpenRepo func(ctx context.Context, rawURL string, o repo.Options) (repo.Repository, error)
}

// backupOptions fills the shared inputs from the factory; called in RunE.
func backupOptions(f *Factory, o *BackupOptions) {
	o.IO = f.IOStreams
	o.Config = f.Config
	o.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
	o.Now = f.Now
	o.Build = f.Build
	if o.OpenRepo == nil {
		o.OpenRepo = repo.Open
	}
}

// addRepoFlag adds --repo, bound to backup.repository.
func addRepoFlag(cmd *cobra.Command) {
	cmd.Flags().String("repo", "", "the repository: a `NAME` from backup.repositories or a URL (s3://bucket/prefix[?endpoint=URL&path_style=true&region=R], file:///path)")
	bindKey(cmd.Flags(), "repo", "backup.repository")
	_ = cmd.RegisterFlagCompletionFunc("repo", completeBackupNames(func(c *config.Config) []string { return sortedKeys(c.Backup.Repositories) }))
}

// completeBackupNames completes names from the config, when it loads.
func completeBackupNames(names func(*config.Config) []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		file, _ := cmd.Flags().GetString("config")
		if file == "" {
			file = os.Getenv(configEnv)
		}
		cfg, err := config.Load(config.LoadOptions{File: file, Flags: cmd.Flags()})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cfg), cobra.ShellCompDirectiveNoFileComp
	}
}

// backupSession is the configuration, printer and repository of a command.
type backupSession struct {
	opts *BackupOptions
	cfg  *config.Config
	p    *ui.Printer
	repo repo.Repository
	// repoName is the repository as the operator named it (its config
	// name or URL), for messages and logs.
	repoName string
}

// openBackupSession loads the configuration, checks the output format and
// opens the repository (which contacts nothing yet).
func openBackupSession(ctx context.Context, opts *BackupOptions) (*backupSession, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return nil, err
	}
	s := &backupSession{opts: opts, cfg: cfg, p: p}
	if s.repo, s.repoName, err = openBackupRepo(ctx, opts, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// openBackupRepo opens the repository backup.repository (or --repo) names:
// a configured repository, with its S3 settings and secrets, or a URL, for
// which S3 credentials come from the AWS credential chain.
func openBackupRepo(ctx context.Context, opts *BackupOptions, cfg *config.Config) (repo.Repository, string, error) {
	ref := strings.TrimSpace(cfg.Backup.Repository)
	from := cfg.Source("backup.repository")
	if ref == "" {
		return nil, "", exitcode.Usagef("no repository: give --repo NAME|URL (s3://bucket/prefix, file:///path) or set backup.repository")
	}
	name := strings.ToLower(ref) // viper lower-cases map keys
	if rc, ok := cfg.Backup.Repositories[name]; ok {
		key := "backup.repositories." + name
		o := repo.Options{Region: rc.Region, Endpoint: rc.Endpoint, PathStyle: rc.PathStyle, StorageClass: rc.StorageClass,
			SSE: rc.SSE, SSEKMSKeyID: rc.SSEKMSKeyID, MaxRetries: rc.MaxRetries}
		var err error
		if o.AccessKeyID, err = resolveSecret(cfg, key+".access_key_id", rc.AccessKeyID); err != nil {
			return nil, "", err
		}
		if o.SecretAccessKey, err = resolveSecret(cfg, key+".secret_access_key", rc.SecretAccessKey); err != nil {
			return nil, "", err
		}
		r, err := opts.OpenRepo(ctx, rc.URL, o)
		if err != nil {
			return nil, "", exitcode.New(exitcode.Usage, cfg.Invalid(key, "%v", err))
		}
		return r, name, nil
	}
	if !strings.Contains(ref, "://") {
		known := "none is configured"
		if names := sortedKeys(cfg.Backup.Repositories); len(names) > 0 {
			known = "configured: " + strings.Join(names, ", ")
		}
		return nil, "", exitcode.Usagef("repository %q (from %s) is neither a name in backup.repositories (%s) nor a URL (s3://bucket/prefix, file:///path)", ref, from, known)
	}
	rawURL, o, err := s3URLOptions(ref)
	if err != nil {
		return nil, "", exitcode.Usagef("%v (from %s)", err, from)
	}
	r, err := opts.OpenRepo(ctx, rawURL, o)
	if err != nil {
		return nil, "", exitcode.Usagef("%v (from %s)", err, from)
	}
	return r, r.URL(), nil
}

// s3URLOptions takes the S3 settings a repository URL may carry in its query,
// so that a cron line reaches an S3-compatible server from flags alone:
// s3://bucket/prefix?endpoint=https://s3.example:9000&path_style=true&region=eu-west-1&storage_class=STANDARD_IA&sse=AES256.
// Credentials never go in the URL (the AWS credential chain supplies them).
// It returns the URL without its query.
func s3URLOptions(ref string) (string, repo.Options, error) {
	var o repo.Options
	base, query, ok := strings.Cut(ref, "?")
	if !ok || !strings.HasPrefix(strings.ToLower(base), "s3://") {
		return ref, o, nil // repo.Open rejects a query on other schemes
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", o, fmt.Errorf("repository URL %s: the query is not key=value pairs: %v", base, err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return "", o, fmt.Errorf("repository URL %s: %s is given %d times", base, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				return "", o, fmt.Errorf("repository URL %s: endpoint must be http(s)://host[:port] without credentials", base)
			}
			o.Endpoint = v
		case "region":
			o.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", o, fmt.Errorf("repository URL %s: path_style=%q is not true or false", base, v)
			}
			o.PathStyle = b
		case "storage_class":
			o.StorageClass = v
		case "sse":
			if !slices.Contains([]string{"AES256", "aws:kms", "aws:kms:dsse"}, v) {
				return "", o, fmt.Errorf("repository URL %s: sse=%q: use AES256, aws:kms or aws:kms:dsse", base, v)
			}
			o.SSE = v
		case "sse_kms_key_id":
			o.SSEKMSKeyID = v
		default:
			return "", o, fmt.Errorf("repository URL %s: unknown setting %q (endpoint, region, path_style, storage_class, sse, sse_kms_key_id); credentials come from the AWS credential chain or a named repository", base, k)
		}
	}
	if o.SSEKMSKeyID != "" && o.SSE != "aws:kms" && o.SSE != "aws:kms:dsse" {
		return "", o, fmt.Errorf("repository URL %s: sse_kms_key_id needs sse=aws:kms", base)
	}
	return base, o, nil
}

// resolveSecret reads a configured secret; a reference that cannot be read
// is a configuration error naming the key, never the value.
func resolveSecret(cfg *config.Config, key string, s config.Secret) (string, error) {
	if !s.IsSet() {
		return "", nil
	}
	v, err := s.Resolve()
	if err != nil {
		return "", exitcode.New(exitcode.Usage, cfg.Invalid(key, "%v", err))
	}
	return v, nil
}

// postgresTarget returns the PostgreSQL URL a flag names: a postgres source
// of backup.sources (whose url is a secret) or a URL without a password.
func postgresTarget(cfg *config.Config, flag, ref string) (string, error) {
	if sc, ok := cfg.Backup.Sources[strings.ToLower(ref)]; ok {
		key := "backup.sources." + strings.ToLower(ref)
		if sc.Kind != "postgres" {
			return "", exitcode.Usagef("%s %s: the source %s is a %s source, not a PostgreSQL database", flag, ref, key, sc.Kind)
		}
		return resolveSecret(cfg, key+".url", sc.URL)
	}
	if err := checkFlagPostgresURL(flag, ref); err != nil {
		return "", err
	}
	return ref, nil
}

// checkFlagPostgresURL refuses a PostgreSQL URL on the command line that
// holds a password: ps, shell history and cron mail would show it. The
// message never repeats the URL.
func checkFlagPostgresURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return exitcode.Usagef("%s: not a PostgreSQL URL (postgres://user@host:port/database) nor a postgres source of backup.sources", flag)
	}
	_, hasPass := u.User.Password()
	if hasPass || u.Query().Has("password") {
		return exitcode.Usagef("%s: the URL holds a password, which the process list, shell history and cron mail would show: "+
			"drop it and use PGPASSWORD or ~/.pgpass, or name a source of backup.sources whose url is a secret (file:PATH, env:NAME)", flag)
	}
	return nil
}

// minPassphraseLen is the shortest backup.passphrase accepted, in bytes.
const minPassphraseLen = 12

// backupPassphrase resolves backup.passphrase ("" when unset).
func backupPassphrase(cfg *config.Config) (string, error) {
	pass, err := resolveSecret(cfg, "backup.passphrase", cfg.Backup.Passphrase)
	if err != nil || pass == "" {
		return "", err
	}
	if len(pass) < minPassphraseLen {
		return "", exitcode.New(exitcode.Usage, cfg.Invalid("backup.passphrase", "is shorter than %d bytes", minPassphraseLen))
	}
	return pass, nil
}

// readIdentities returns the identities --identity FILE or backup.identity
// give, and the passphrase identity of backup.passphrase; nil when none is
// set (enough for unencrypted backups).
func readIdentities(cfg *config.Config, io *ui.IOStreams, file string) ([]age.Identity, error) {
	ids, err := readKeyIdentities(cfg, io, file)
	if err != nil {
		return nil, err
	}
	pass, err := backupPassphrase(cfg)
	if err != nil || pass == "" {
		return ids, err
	}
	id, err := backup.PassphraseIdentity(pass)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("backup.passphrase", "%v", err))
	}
	return append(ids, id), nil
}

// readKeyIdentities returns the identities --identity FILE or
// backup.identity give, nil when neither is set.
func readKeyIdentities(cfg *config.Config, io *ui.IOStreams, file string) ([]age.Identity, error) {
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			return nil, exitcode.Usagef("--identity: %v", unwrapPath(err))
		}
		f, err := os.Open(file)
		if err != nil {
			return nil, exitcode.Usagef("--identity: %v", unwrapPath(err))
		}
		defer f.Close()
		ids, err := backup.ParseIdentities(f)
		if err != nil {
			return nil, exitcode.Usagef("--identity %s: %v", file, err)
		}
		if st.Mode().Perm()&0o077 != 0 && !cfg.Quiet {
			fmt.Fprintf(io.ErrOut, "warning: the identity file %s can be read by others (mode %04o): chmod 600 it\n", ui.Sanitize(file), st.Mode().Perm())
		}
		return ids, nil
	}
	v, err := resolveSecret(cfg, "backup.identity", cfg.Backup.Identity)
	if err != nil || v == "" {
		return nil, err
	}
	ids, err := backup.ParseIdentities(strings.NewReader(v))
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("backup.identity", "%v", err))
	}
	return ids, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// backupError gives an error of the backup package its exit code: 10 no
// such backup, 11 locked, 12 integrity (a wrong key included), 4 denied, 75
// unreachable (safe to retry), 130 interrupted, 2 an identity missing.
func backupError(ctx context.Context, err error) error {
	var ee *exitcode.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return err
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitcode.New(exitcode.Interrupted, fmt.Errorf("interrupted: %w", err))
	case errors.Is(err, backup.ErrLocked):
		return exitcode.New(exitcode.Locked, err)
	case errors.Is(err, backup.ErrIntegrity):
		return exitcode.New(exitcode.Integrity, err)
	case errors.Is(err, backup.ErrBadReference):
		return exitcode.New(exitcode.Usage, err)
	case errors.Is(err, backup.ErrIdentityRequired):
		return exitcode.New(exitcode.Usage, fmt.Errorf("%w: give --identity FILE or set backup.identity (backup.passphrase for a passphrase backup)", err))
	case errors.Is(err, backup.ErrNotFound), errors.Is(err, repo.ErrNotFound):
		return exitcode.New(exitcode.NotFound, err)
	case errors.Is(err, repo.ErrDenied):
		return exitcode.New(exitcode.Denied, err)
	case errors.Is(err, repo.ErrUnavailable):
		return exitcode.New(exitcode.TempFail, fmt.Errorf("%w (safe to retry)", err))
	case errors.Is(err, backup.ErrTargetNotEmpty):
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w; pass --force to restore over it", err))
	}
	// The server answered: refused credentials are 4; anything else it
	// said (no such database, ...) will not cure itself by retrying.
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if strings.HasPrefix(pe.Code, "28") {
			return exitcode.New(exitcode.Denied, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var oe *net.OpError
	if errors.As(err, &ce) || errors.As(err, &oe) {
		return exitcode.New(exitcode.TempFail, fmt.Errorf("%w (is the database server running and reachable?)", err))
	}
	return err
}

// backupProgress is the backup package's Reporter for a command: a
// progress bar per phase on a terminal, warnings on stderr.
type backupProgress struct {
	io    *ui.IOStreams
	human bool
	quiet bool

	mu   sync.Mutex
	bars map[backup.Phase]*ui.Progress
	last map[backup.Phase]int64
}

func newBackupProgress(s *backupSession) *backupProgress {
	return &backupProgress{io: s.opts.IO, human: s.p.Format == ui.Table && !s.cfg.Quiet, quiet: s.cfg.Quiet,
		bars: map[backup.Phase]*ui.Progress{}, last: map[backup.Phase]int64{}}
}

// Progress implements backup.Reporter.
func (p *backupProgress) Progress(phase backup.Phase, n, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bar, ok := p.bars[phase]
	if !ok {
		label := map[backup.Phase]string{backup.PhaseBackup: "backing up", backup.PhaseVerify: "verifying", backup.PhaseRestore: "restoring"}[phase]
		bar = ui.NewProgress(p.io, label, total, p.human)
		p.bars[phase] = bar
	}
	bar.Add(n - p.last[phase])
	p.last[phase] = n
}

// Warning implements backup.Reporter.
func (p *backupProgress) Warning(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bars {
		b.Done()
	}
	if !p.quiet {
		fmt.Fprintln(p.io.ErrOut, "warning: "+ui.Sanitize(msg))
	}
}

// Done clears the progress bars.
func (p *backupProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bars {
		b.Done()
	}
}

// encryptedTo describes who can read a backup: its recipients, or
// UNENCRYPTED, or passphrase.
func encryptedTo(m *backup.Manifest) []string {
	switch {
	case m == nil:
		return []string{}
	case m.Encryption.Mode == backup.EncryptionNone:
		return []string{"UNENCRYPTED"}
	case m.Encryption.Mode == backup.EncryptionScrypt:
		return []string{"passphrase"}
	}
	return append([]string{}, m.Encryption.Recipients...)
}

// recipientsCell writes encryptedTo for a table: in full when piped,
// shortened on a terminal, where an age1 key takes 62 columns.
func recipientsCell(ios *ui.IOStreams, list []string) string {
	if !ios.IsStdoutTTY() {
		return strings.Join(list, ",")
	}
	out := make([]string, len(list))
	for i, r := range list {
		if strings.HasPrefix(r, "age1") && len(r) > 20 {
			r = r[:12] + "…" + r[len(r)-4:]
		}
		out[i] = r
	}
	return strings.Join(out, ",")
}

// sizeCell writes a byte count: bytes when piped, IEC units on a terminal.
func sizeCell(ios *ui.IOStreams, n int64) string {
	if !ios.IsStdoutTTY() {
		return fmt.Sprint(n)
	}
	return humanBytes(n)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// durationCell writes a duration: seconds when piped, rounded on a terminal.
func durationCell(ios *ui.IOStreams, seconds float64) string {
	if !ios.IsStdoutTTY() {
		return fmt.Sprintf("%.3f", seconds)
	}
	d := time.Duration(seconds * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// shortHash shortens a SHA-256 on a terminal.
func shortHash(ios *ui.IOStreams, h string) string {
	if ios.IsStdoutTTY() && len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// done prints a one-line success summary on stderr (human output only).
func (s *backupSession) done(format string, args ...any) {
	if s.p.Format != ui.Table || s.cfg.Quiet {
		return
	}
	s.opts.IO.Successf(format, args...)
}

// note prints a hint on stderr, unless --quiet.
func (s *backupSession) note(format string, args ...any) {
	if s.cfg.Quiet {
		return
	}
	fmt.Fprintln(s.opts.IO.ErrOut, ui.Sanitize(fmt.Sprintf(format, args...)))
}

// validSourceFlag checks a --source filter.
func validSourceFlag(source string) error {
	if source == "" {
		return nil
	}
	if err := backup.ValidateSourceName(source); err != nil {
		return exitcode.Usagef("--source: %v", err)
	}
	return nil
}

// absPath makes a flag's path absolute for messages and results.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// cleanupContext outlives an interrupted command for the work that must
// still happen (metrics, the log line, notifications), but not forever.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
