package commands

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// BackupRunOptions are the inputs of `backup run`.
type BackupRunOptions struct {
	BackupOptions

	Source      string   // a name from backup.sources or a source URL
	Name        string   // the name of a URL source
	Recipients  []string // --recipient; none: backup.recipients
	Passphrase  bool     // --passphrase: backup.passphrase instead of recipients
	Unencrypted bool
	Format      string // pg_dump format
	Jobs        int
}

// backupRunResult is the result of a successful run on stdout.
type backupRunResult struct {
	FormatVersion   int       `json:"format_version"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	SourceKind      string    `json:"source_kind"`
	Repository      string    `json:"repository"`
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	PlaintextSize   int64     `json:"plaintext_size"`
	StoredSize      int64     `json:"stored_size"`
	SHA256          string    `json:"sha256"`
	SHA256Plaintext string    `json:"sha256_plaintext"`
	Encryption      string    `json:"encryption"`
	EncryptedTo     []string  `json:"encrypted_to"`
	Warnings        []string  `json:"warnings"`
}

// backupRunRecord is the log line of one run, successful or not: on stderr
// and appended to backup.log_file. Its fields are documented in
// docs/backup.md and stable.
type backupRunRecord struct {
	Time            time.Time `json:"time"`
	Level           string    `json:"level"` // info or error
	Msg             string    `json:"msg"`
	Result          string    `json:"result"` // ok or failed
	ExitCode        int       `json:"exit_code"`
	Host            string    `json:"host"`
	Source          string    `json:"source"`
	SourceKind      string    `json:"source_kind,omitempty"`
	Repository      string    `json:"repository,omitempty"`
	ID              string    `json:"id,omitempty"`
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	PlaintextSize   int64     `json:"plaintext_size"`
	StoredSize      int64     `json:"stored_size"`
	SHA256          string    `json:"sha256,omitempty"`
	Encryption      string    `json:"encryption,omitempty"`
	EncryptedTo     []string  `json:"encrypted_to"`
	Warnings        []string  `json:"warnings"`
	Error           string    `json:"error,omitempty"`
}

func newBackupRunCmd(f *Factory, runF func(*BackupRunOptions) error) *cobra.Command {
	opts := &BackupRunOptions{}
	cmd := &cobra.Command{
		Use:   "run --source NAME|URL --repo NAME|URL [--recipient age1...]...",
		Short: "Back a source up into a repository",
		Long: `Back up one source into a repository: dump, compress (zstd), encrypt (age)
and upload in one stream, then write the backup's manifest. Nothing is staged
on local disk except where the source's format needs it (the embedded
store's online copy, pg_dump's directory format): see docs/backup.md.

--source is a name from backup.sources, or a URL:
  postgres://user@host:port/database   pg_dump of the server's major version
  embedded  or  embedded:PATH          the embedded store (default: the one in data_dir)
  dir:///path  or  file:///path        a directory, as a tar
A URL source is named after its database, directory or "embedded" unless
--name says otherwise; the name is the first segment of its backups' keys.
A PostgreSQL URL on the command line must not hold a password (ps and shell
history show it): use PGPASSWORD, ~/.pgpass, or a named source whose url is
a config secret (file:PATH or env:NAME).

Backups are encrypted to every --recipient (or backup.recipients, plus
backup.recipients_file): public keys from 'backup keygen', so the host that
writes backups cannot read them. --passphrase encrypts with the passphrase
of backup.passphrase (age scrypt) instead; verify and restore then read it
from the same key. --unencrypted is refused unless the config sets
backup.allow_unencrypted: true.

Output: the backup's id, source, size, duration, SHA-256 and recipients on
stdout; with --quiet nothing at all on success, as cron wants. On stderr, a
progress bar on a terminal, and one JSON line per run for the log (on
success unless --quiet, on failure always, before the Error line); the same
line is appended to backup.log_file (--log-file) whatever happens. After
every run, successful or not, the metrics repairx_backup_* go to the
textfile collector file (--metrics-textfile) and the Pushgateway
(--pushgateway), and a failure is sent to backup.notify (Slack, e-mail).
SIGTERM or SIGINT aborts the upload: nothing that looks complete is left.

Exit status: 0 backed up; 2 bad usage or configuration (no recipients, an
unknown source, a password in a flag, --unencrypted not allowed); 4 the
repository or database refused the credentials; 10 the bucket does not
exist; 11 another run of the same source holds its lock (the message names
its host, pid and start); 75 the repository or database was unreachable
(safe to retry); 130 interrupted; 1 anything else (pg_dump failed, ...).`,
		Example: `  # Nightly from cron: silent unless it fails
  0 2 * * * repairxctl backup run --source main --repo offsite --quiet

  # Ad hoc: a database (password from ~/.pgpass) into a local directory
  repairxctl backup run --source postgres://backup@db.internal/repairx \
    --repo file:///var/backups/repairx --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p

  # The embedded store and a data directory
  repairxctl backup run --source embedded --repo offsite
  repairxctl backup run --source dir:///var/lib/repairx/uploads --name uploads --repo offsite

  # A large database: parallel dump (staged in backup.staging_dir)
  repairxctl backup run --source main --repo offsite --format directory --jobs 4`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format != "" && opts.Format != backup.FormatCustom && opts.Format != backup.FormatDirectory {
				return exitcode.Usagef("--format %q: use custom or directory", opts.Format)
			}
			if opts.Jobs < 0 {
				return exitcode.Usagef("--jobs must be at least 1")
			}
			if opts.Unencrypted && (len(opts.Recipients) > 0 || cmd.Flags().Changed("recipients-file")) {
				return exitcode.Usagef("--unencrypted and recipients exclude each other")
			}
			if opts.Passphrase && (opts.Unencrypted || len(opts.Recipients) > 0 || cmd.Flags().Changed("recipients-file")) {
				return exitcode.Usagef("--passphrase excludes --unencrypted and recipients")
			}
			backupOptions(f, &opts.BackupOptions)
			if runF != nil {
				return runF(opts)
			}
			return backupRunRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Source, "source", "", "what to back up: a `NAME` from backup.sources, or postgres://..., embedded[:PATH], dir:///path")
	fl.StringVar(&opts.Name, "name", "", "name a URL source `NAME` (default: the database, the directory's base name, or embedded)")
	addRepoFlag(cmd)
	fl.StringArrayVar(&opts.Recipients, "recipient", nil, "encrypt to the age public key `age1...` (repeatable; default backup.recipients)")
	fl.String("recipients-file", "", "also encrypt to the recipients in `FILE`, one per line")
	bindKey(fl, "recipients-file", "backup.recipients_file")
	fl.BoolVar(&opts.Passphrase, "passphrase", false, "encrypt with the passphrase of backup.passphrase (age scrypt) instead of recipients")
	fl.BoolVar(&opts.Unencrypted, "unencrypted", false, "write the backup unencrypted (only with backup.allow_unencrypted: true)")
	fl.StringVar(&opts.Format, "format", "", "pg_dump `FORMAT`: custom (streamed) or directory (parallel, staged)")
	fl.IntVar(&opts.Jobs, "jobs", 0, "parallel pg_dump jobs `N` (directory format)")
	fl.Int("compression-level", 3, "zstd `LEVEL`, 1 (fastest) to 22 (smallest)")
	bindKey(fl, "compression-level", "backup.compression_level")
	fl.String("staging-dir", "", "stage formats that need local disk in `DIR` (default: the system's temporary directory)")
	bindKey(fl, "staging-dir", "backup.staging_dir")
	fl.String("metrics-textfile", "", "write the run's metrics to the node_exporter textfile `FILE` (*.prom)")
	bindKey(fl, "metrics-textfile", "backup.metrics.textfile")
	fl.String("pushgateway", "", "push the run's metrics to the Pushgateway at `URL`")
	bindKey(fl, "pushgateway", "backup.metrics.pushgateway")
	fl.String("log-file", "", "append the run's JSON log line to `FILE`")
	bindKey(fl, "log-file", "backup.log_file")
	_ = cmd.MarkFlagRequired("source")
	_ = cmd.MarkFlagFilename("recipients-file")
	_ = cmd.MarkFlagFilename("metrics-textfile", "prom")
	_ = cmd.MarkFlagFilename("log-file")
	_ = cmd.MarkFlagDirname("staging-dir")
	_ = cmd.RegisterFlagCompletionFunc("source", completeBackupNames(func(c *config.Config) []string { return sortedKeys(c.Backup.Sources) }))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"custom", "directory"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func backupRunRun(ctx context.Context, opts *BackupRunOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	start := opts.Now()
	rec := &backupRunRecord{Host: host, StartedAt: start.UTC(), EncryptedTo: []string{}, Warnings: []string{}}
	s := &backupSession{opts: &opts.BackupOptions, cfg: cfg, p: p}
	res, err := backupRunDo(ctx, opts, s, rec)
	err = backupError(ctx, err)
	end := opts.Now()
	rec.Time = end.UTC()
	rec.DurationSeconds = end.Sub(start).Seconds()
	rec.ExitCode = exitcode.Code(err)
	if err == nil {
		rec.Level, rec.Msg, rec.Result = "info", "backup run succeeded", "ok"
	} else {
		rec.Level, rec.Msg, rec.Result, rec.Error = "error", "backup run failed", "failed", err.Error()
	}

	// What must happen after every run, also an interrupted one.
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	for _, problem := range afterBackupRun(cctx, cfg, rec, end.Sub(start)) {
		fmt.Fprintln(opts.IO.ErrOut, "warning: "+ui.Sanitize(problem))
	}

	humanStderr := p.Format == ui.Table && opts.IO.IsStderrTTY()
	if err != nil {
		if !humanStderr {
			_ = ui.WriteNDJSON(opts.IO.ErrOut, rec)
		}
		return err
	}
	if cfg.Quiet {
		return nil
	}
	if err := p.Print(res, func(w io.Writer) error { return writeBackupRunResult(opts.IO, w, res) }); err != nil {
		return err
	}
	if humanStderr {
		s.done("backed up %s to %s as %s: %s in %s", res.Source, s.repoName, res.ID, humanBytes(res.StoredSize), durationCell(opts.IO, res.DurationSeconds))
		return nil
	}
	return ui.WriteNDJSON(opts.IO.ErrOut, rec)
}

// backupRunDo sets the run up and runs it, filling rec as it learns.
func backupRunDo(ctx context.Context, opts *BackupRunOptions, s *backupSession, rec *backupRunRecord) (*backupRunResult, error) {
	cfg := s.cfg
	spec, err := parseBackupSource(cfg, opts)
	if spec != nil {
		rec.Source, rec.SourceKind = spec.name, string(spec.kind)
	}
	if err != nil {
		return nil, err
	}
	enc, err := backupEncryption(cfg, opts)
	if err != nil {
		return nil, err
	}
	if s.repo, s.repoName, err = openBackupRepo(ctx, s.opts, cfg); err != nil {
		return nil, err
	}
	rec.Repository = s.repoName
	src, err := spec.open()
	if err != nil {
		return nil, err
	}
	progress := newBackupProgress(s)
	out, err := backup.Run(ctx, s.repo, src, backup.RunOptions{
		Encryption:       enc,
		CompressionLevel: cfg.Backup.CompressionLevel,
		Reporter:         progress,
		Now:              opts.Now,
	})
	progress.Done()
	if err != nil {
		return nil, err
	}
	m := out.Manifest
	res := &backupRunResult{
		FormatVersion: 1, ID: m.ID, Source: m.Source.Name, SourceKind: string(m.Source.Kind), Repository: s.repoName,
		StartedAt: m.StartedAt.UTC(), DurationSeconds: m.DurationSeconds,
		PlaintextSize: m.Data.PlaintextSize, StoredSize: m.Data.StoredSize, SHA256: m.Data.SHA256Stored, SHA256Plaintext: m.Data.SHA256Plaintext,
		Encryption: m.Encryption.Mode, EncryptedTo: encryptedTo(m), Warnings: append([]string{}, out.Warnings...),
	}
	rec.ID, rec.PlaintextSize, rec.StoredSize, rec.SHA256 = m.ID, m.Data.PlaintextSize, m.Data.StoredSize, m.Data.SHA256Stored
	rec.Encryption, rec.EncryptedTo, rec.Warnings = m.Encryption.Mode, res.EncryptedTo, res.Warnings
	return res, nil
}

// backupEncryption chooses the encryption from the flags and config.
func backupEncryption(cfg *config.Config, opts *BackupRunOptions) (backup.Encryption, error) {
	if opts.Unencrypted {
		if !cfg.Backup.AllowUnencrypted {
			return backup.Encryption{}, exitcode.Usagef("--unencrypted is refused: backups are encrypted unless the config sets backup.allow_unencrypted: true")
		}
		return backup.Encryption{Unencrypted: true}, nil
	}
	if opts.Passphrase {
		pass, err := backupPassphrase(cfg)
		if err != nil {
			return backup.Encryption{}, err
		}
		if pass == "" {
			return backup.Encryption{}, exitcode.Usagef("--passphrase: backup.passphrase is not set (a secret reference: file:PATH or env:NAME)")
		}
		return backup.Encryption{Passphrase: pass}, nil
	}
	var recips []*age.X25519Recipient
	list, from := opts.Recipients, "--recipient"
	if len(list) == 0 {
		list, from = cfg.Backup.Recipients, "backup.recipients ("+cfg.Source("backup.recipients")+")"
	}
	for _, r := range list {
		rec, err := backup.ParseRecipient(r)
		if err != nil {
			return backup.Encryption{}, exitcode.Usagef("%s: %v", from, err)
		}
		recips = append(recips, rec)
	}
	if file := cfg.Backup.RecipientsFile; file != "" {
		f, err := os.Open(file)
		if err != nil {
			return backup.Encryption{}, exitcode.New(exitcode.Usage, cfg.Invalid("backup.recipients_file", "%v", unwrapPath(err)))
		}
		more, err := backup.ParseRecipients(f)
		f.Close()
		if err != nil {
			return backup.Encryption{}, exitcode.New(exitcode.Usage, cfg.Invalid("backup.recipients_file", "%s: %v", file, err))
		}
		recips = append(recips, more...)
	}
	if len(recips) == 0 {
		return backup.Encryption{}, exitcode.Usagef("no recipients to encrypt to: give --recipient age1... (repeatable), --recipients-file or backup.recipients; " +
			"'repairxctl backup keygen' makes a key pair (on another host)")
	}
	return backup.Encryption{Recipients: recips}, nil
}

// backupSourceSpec is a source as --source names it, known before anything
// is opened so that a failure can still be reported under its name.
type backupSourceSpec struct {
	name string
	kind backup.Kind
	open func() (backup.Source, error)
}

// parseBackupSource resolves --source: a name from backup.sources, or a
// URL. A spec without an error may still fail to open (a bad URL).
func parseBackupSource(cfg *config.Config, opts *BackupRunOptions) (*backupSourceSpec, error) {
	ref := strings.TrimSpace(opts.Source)
	pgOpts := func(format string, jobs int) (backup.PostgresOptions, error) {
		if opts.Format != "" {
			format = opts.Format
		}
		if opts.Jobs > 0 {
			jobs = opts.Jobs
		}
		if jobs > 1 && format != backup.FormatDirectory {
			return backup.PostgresOptions{}, exitcode.Usagef("--jobs %d needs --format directory (pg_dump dumps in parallel only to a directory, staged in backup.staging_dir)", jobs)
		}
		return backup.PostgresOptions{Format: format, Jobs: jobs, StagingDir: cfg.Backup.StagingDir}, nil
	}
	notPostgres := func(what string) error {
		if opts.Format != "" || opts.Jobs > 0 {
			return exitcode.Usagef("--format and --jobs are for PostgreSQL sources, and %s is %s", ref, what)
		}
		return nil
	}
	usage := func(err error) error {
		if err == nil {
			return nil
		}
		return exitcode.Usagef("--source %s: %v", ref, err)
	}

	if sc, ok := cfg.Backup.Sources[strings.ToLower(ref)]; ok {
		name := strings.ToLower(ref)
		key := "backup.sources." + name
		if opts.Name != "" && opts.Name != name {
			return nil, exitcode.Usagef("--name is for URL sources; %s is named by the config", key)
		}
		spec := &backupSourceSpec{name: name, kind: backup.Kind(sc.Kind)}
		switch spec.kind {
		case backup.KindPostgres:
			spec.open = func() (backup.Source, error) {
				o, err := pgOpts(sc.Format, sc.Jobs)
				if err != nil {
					return nil, err
				}
				u, err := resolveSecret(cfg, key+".url", sc.URL)
				if err != nil {
					return nil, err
				}
				src, err := backup.NewPostgresSource(name, u, o)
				if err != nil {
					return nil, exitcode.New(exitcode.Usage, cfg.Invalid(key+".url", "%v", err))
				}
				return src, nil
			}
		case backup.KindEmbedded:
			spec.open = func() (backup.Source, error) {
				if err := notPostgres("the embedded store"); err != nil {
					return nil, err
				}
				path := sc.Path
				if path == "" {
					var err error
					if path, err = storePath(cfg); err != nil {
						return nil, err
					}
				}
				src, err := backup.NewEmbeddedSource(name, path)
				return src, usage(err)
			}
		default:
			spec.open = func() (backup.Source, error) {
				if err := notPostgres("a directory"); err != nil {
					return nil, err
				}
				src, err := backup.NewDirectorySource(name, sc.Path)
				return src, usage(err)
			}
		}
		return spec, nil
	}

	named := func(def string) (string, error) {
		name := opts.Name
		if name == "" {
			name = def
		}
		if err := backup.ValidateSourceName(name); err != nil {
			return name, exitcode.Usagef("--source %s: %v; name it with --name", ref, err)
		}
		return name, nil
	}
	switch {
	case ref == "embedded" || strings.HasPrefix(ref, "embedded:"):
		path := strings.TrimPrefix(strings.TrimPrefix(ref, "embedded"), ":")
		name, err := named("embedded")
		spec := &backupSourceSpec{name: name, kind: backup.KindEmbedded}
		if err != nil {
			return spec, err
		}
		spec.open = func() (backup.Source, error) {
			if err := notPostgres("the embedded store"); err != nil {
				return nil, err
			}
			if path == "" {
				var err error
				if path, err = storePath(cfg); err != nil {
					return nil, err
				}
			}
			src, err := backup.NewEmbeddedSource(name, absPath(path))
			return src, usage(err)
		}
		return spec, nil
	case strings.HasPrefix(ref, "postgres://"), strings.HasPrefix(ref, "postgresql://"):
		if err := checkFlagPostgresURL("--source", ref); err != nil {
			return nil, err
		}
		u, _ := url.Parse(ref)
		db := strings.TrimPrefix(u.Path, "/")
		if db == "" {
			db = u.Query().Get("dbname")
		}
		name, err := named(db)
		spec := &backupSourceSpec{name: name, kind: backup.KindPostgres}
		if err != nil {
			return spec, err
		}
		spec.open = func() (backup.Source, error) {
			o, err := pgOpts("", 0)
			if err != nil {
				return nil, err
			}
			src, err := backup.NewPostgresSource(name, ref, o)
			return src, usage(err)
		}
		return spec, nil
	case strings.HasPrefix(ref, "dir://"), strings.HasPrefix(ref, "file://"):
		u, err := url.Parse(ref)
		if err != nil || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
			return nil, exitcode.Usagef("--source %s: a directory URL takes an absolute path after three slashes, as in dir:///var/lib/repairx", ref)
		}
		dir := filepath.Clean(filepath.FromSlash(u.Path))
		name, err := named(filepath.Base(dir))
		spec := &backupSourceSpec{name: name, kind: backup.KindDirectory}
		if err != nil {
			return spec, err
		}
		spec.open = func() (backup.Source, error) {
			if err := notPostgres("a directory"); err != nil {
				return nil, err
			}
			src, err := backup.NewDirectorySource(name, dir)
			return src, usage(err)
		}
		return spec, nil
	}
	known := "none is configured"
	if names := sortedKeys(cfg.Backup.Sources); len(names) > 0 {
		known = "configured: " + strings.Join(names, ", ")
	}
	return nil, exitcode.Usagef("--source %q is neither a name in backup.sources (%s) nor a source URL (postgres://..., embedded[:PATH], dir:///path)", ref, known)
}

// afterBackupRun writes the metrics and the log line and sends the failure
// notifications; it returns what went wrong, for warnings: none of it
// changes the run's exit status.
func afterBackupRun(ctx context.Context, cfg *config.Config, rec *backupRunRecord, took time.Duration) []string {
	var problems []string
	m := backupRunMetrics{Source: rec.Source, OK: rec.Result == "ok", Finished: rec.Time, Duration: took, Size: rec.StoredSize}
	client := &http.Client{Timeout: 30 * time.Second}
	if cfg.Backup.Metrics.Textfile != "" || cfg.Backup.Metrics.Pushgateway != "" {
		if backup.ValidateSourceName(rec.Source) != nil {
			problems = append(problems, "no metrics written: the source could not be named")
		} else {
			if path := cfg.Backup.Metrics.Textfile; path != "" {
				if err := writeBackupTextfile(path, m); err != nil {
					problems = append(problems, fmt.Sprintf("writing the metrics textfile %s: %v", path, err))
				}
			}
			if gw := cfg.Backup.Metrics.Pushgateway; gw != "" {
				if err := pushBackupMetrics(ctx, client, gw, m); err != nil {
					problems = append(problems, fmt.Sprintf("pushing metrics to %s: %v", redactedURL(gw), err))
				}
			}
		}
	}
	if path := cfg.Backup.LogFile; path != "" {
		if err := appendJSONLine(path, rec); err != nil {
			problems = append(problems, fmt.Sprintf("appending to the log file %s: %v", path, err))
		}
	}
	if rec.Result == "ok" {
		return problems
	}
	n := cfg.Backup.Notify
	if n.SlackWebhook.IsSet() {
		hook, err := n.SlackWebhook.Resolve()
		if err == nil {
			err = notifySlack(ctx, client, hook, rec)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("notifying Slack: %v", err))
		}
	}
	if n.Email.Enabled() {
		pw, err := n.Email.Password.Resolve()
		if err == nil {
			err = notifyEmail(ctx, n.Email, pw, nil, rec)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("sending the failure mail: %v", err))
		}
	}
	return problems
}

// appendJSONLine appends v as one JSON line to path (created 0600: the log
// names hosts and repositories). One write call keeps concurrent runs'
// lines whole.
func appendJSONLine(path string, v any) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := ui.WriteNDJSON(&b, v); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeBackupRunResult(ios *ui.IOStreams, w io.Writer, r *backupRunResult) error {
	tp := ui.NewTablePrinter(ios, "id", "source", "size", "duration", "sha256", "encrypted to")
	tp.AddRow(r.ID, r.Source, sizeCell(ios, r.StoredSize), durationCell(ios, r.DurationSeconds), shortHash(ios, r.SHA256), recipientsCell(ios, r.EncryptedTo))
	return tp.Render(w)
}
