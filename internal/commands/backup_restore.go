package commands

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// BackupRestoreOptions are the inputs of `backup restore`.
type BackupRestoreOptions struct {
	BackupOptions

	Ref          string // an id, source/id, latest or a time; "" with --at
	At           string
	Source       string
	IdentityFile string
	ToDB         string // a URL without password, or a postgres source's name
	ToDir        string
	ToFile       string
	Force        bool
	Jobs         int
	NoOwner      bool
}

type backupRestoreResult struct {
	FormatVersion int    `json:"format_version"`
	ID            string `json:"id"`
	Source        string `json:"source"`
	Repository    string `json:"repository"`
	// Target is the path, or the database URL without its password.
	Target        string   `json:"target"`
	PlaintextSize int64    `json:"plaintext_size"`
	PreVerified   bool     `json:"pre_verified"`
	Warnings      []string `json:"warnings"`
}

func newBackupRestoreCmd(f *Factory, runF func(*BackupRestoreOptions) error) *cobra.Command {
	opts := &BackupRestoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore ID|latest|--at TIME --repo NAME|URL [--identity FILE] (--to-db URL|NAME | --to-dir PATH | --to-file PATH) [--force]",
		Short: "Restore a backup into a database, a directory or a file",
		Long: `Restore a complete backup, checking every byte against its manifest on the
way (a mismatch stops the restore: exit 12). The backup is an id
(20261123T020000Z-k3fa2b, or source/id), latest, or --at TIME: the newest
complete backup started at or before TIME (RFC 3339 or 2006-01-02). Name the
source with --source when the repository holds several.

Targets (exactly one):
  --to-db URL|NAME   a PostgreSQL database (postgres backups): it must exist
                     and be empty unless --force (which drops the objects it
                     restores first). The backup is verified in full first,
                     then restored in one transaction: a failure leaves the
                     database as it was. A URL must not hold a password: use
                     PGPASSWORD, ~/.pgpass, or name a postgres source of
                     backup.sources whose url is a secret.
  --to-dir PATH      a directory: a directory backup's files, or the
                     backup's single file (the embedded store, a dump). A
                     missing or empty directory is filled through a staging
                     directory renamed into place; a non-empty one needs
                     --force.
  --to-file PATH     the backup's plaintext as one file (the SQLite store,
                     the pg_dump archive, or the tar): written beside PATH
                     and renamed into place once its checksums match; an
                     existing file needs --force.
Replacing the embedded store of a running serve is refused: stop it first.

Exit status: 0 restored; 12 the backup does not match its manifest, is
damaged, or the identity is wrong (nothing restored, or the error says what
was partially restored); 10 no such backup (or it is incomplete); 1 the
target is not empty without --force, or pg_restore failed (its
transaction rolled back); 2 bad usage or configuration, or an encrypted
backup and no identity; 4 the repository refused the credentials; 75 the
repository was unreachable (safe to retry); 130 interrupted.`,
		Example: `  # The newest backup of main into a new, empty database
  createdb -h db2 repairx_restored
  repairxctl backup restore latest --source main --repo offsite --identity id.txt \
    --to-db postgres://postgres@db2/repairx_restored

  # The state of last Monday morning
  repairxctl backup restore --at 2026-11-23T06:00:00Z --source main --repo offsite \
    --identity id.txt --to-db scratch

  # The embedded store, into a file (stop serve before replacing the live one)
  repairxctl backup restore latest --source embedded --repo offsite --identity id.txt \
    --to-file /tmp/repairx.db

  # A data directory
  repairxctl backup restore uploads/20261123T020000Z-k3fa2b --repo offsite --identity id.txt \
    --to-dir /srv/uploads.restored`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Ref = args[0]
			}
			switch {
			case opts.Ref == "" && opts.At == "":
				return exitcode.Usagef("name the backup: an id, latest, or --at TIME")
			case opts.Ref != "" && opts.At != "":
				return exitcode.Usagef("give a backup id (or latest) or --at TIME, not both")
			case opts.At != "":
				if _, err := backup.ParseTime(opts.At); err != nil {
					return exitcode.Usagef("--at %q is not a time: use RFC 3339 (2026-11-23T06:00:00Z) or a day (2026-11-23)", opts.At)
				}
			default:
				if err := checkBackupRef(opts.Ref); err != nil {
					return err
				}
			}
			if err := validSourceFlag(opts.Source); err != nil {
				return err
			}
			n := 0
			for _, t := range []string{opts.ToDB, opts.ToDir, opts.ToFile} {
				if t != "" {
					n++
				}
			}
			if n != 1 {
				return exitcode.Usagef("give exactly one target: --to-db, --to-dir or --to-file")
			}
			if opts.Jobs < 0 {
				return exitcode.Usagef("--jobs must be at least 1")
			}
			backupOptions(f, &opts.BackupOptions)
			if runF != nil {
				return runF(opts)
			}
			return backupRestoreRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.At, "at", "", "restore the newest complete backup started at or before `TIME`")
	fl.StringVar(&opts.Source, "source", "", "the backup's source `NAME` (when the repository holds several)")
	fl.StringVar(&opts.IdentityFile, "identity", "", "decrypt with the age identity in `FILE` (default backup.identity; backup.passphrase reads --passphrase backups)")
	fl.StringVar(&opts.ToDB, "to-db", "", "restore into the PostgreSQL database `URL` (no password) or postgres source NAME")
	fl.StringVar(&opts.ToDir, "to-dir", "", "restore into the directory `PATH`")
	fl.StringVar(&opts.ToFile, "to-file", "", "restore the plaintext into the file `PATH`")
	fl.BoolVar(&opts.Force, "force", false, "restore into a target that is not empty (a database: drop what is restored first)")
	fl.IntVar(&opts.Jobs, "jobs", 0, "parallel pg_restore jobs `N` (directory-format dumps; not in one transaction)")
	fl.BoolVar(&opts.NoOwner, "no-owner", false, "restore without setting owners, for a server without the original roles")
	_ = cmd.MarkFlagFilename("identity", "txt", "key")
	_ = cmd.MarkFlagDirname("to-dir")
	_ = cmd.MarkFlagFilename("to-file")
	return cmd
}

func backupRestoreRun(ctx context.Context, opts *BackupRestoreOptions) error {
	s, err := openBackupSession(ctx, &opts.BackupOptions)
	if err != nil {
		return err
	}
	ids, err := readIdentities(s.cfg, opts.IO, opts.IdentityFile)
	if err != nil {
		return err
	}
	t := backup.Target{Force: opts.Force, Jobs: opts.Jobs, NoOwner: opts.NoOwner, StagingDir: s.cfg.Backup.StagingDir}
	switch {
	case opts.ToDB != "":
		if t.Database, err = postgresTarget(s.cfg, "--to-db", opts.ToDB); err != nil {
			return err
		}
	case opts.ToDir != "":
		t.Dir = absPath(opts.ToDir)
	default:
		t.File = absPath(opts.ToFile)
	}
	var entry backup.Entry
	if opts.At != "" {
		at, _ := backup.ParseTime(opts.At)
		entry, err = backup.ResolveAt(ctx, s.repo, opts.Source, at)
	} else {
		entry, err = backup.Resolve(ctx, s.repo, opts.Source, opts.Ref)
	}
	if err != nil {
		return backupError(ctx, err)
	}
	progress := newBackupProgress(s)
	out, err := backup.Restore(ctx, s.repo, entry.Ref, ids, t, backup.RestoreOptions{Reporter: progress})
	progress.Done()
	if err != nil {
		return backupError(ctx, err)
	}
	res := backupRestoreResult{FormatVersion: 1, ID: entry.ID, Source: entry.Source, Repository: s.repo.URL(), Target: out.Target,
		PreVerified: out.PreVerified, Warnings: append([]string{}, out.Warnings...)}
	if out.Manifest != nil {
		res.PlaintextSize = out.Manifest.Data.PlaintextSize
	}
	err = s.p.Print(res, func(w io.Writer) error {
		tp := ui.NewTablePrinter(opts.IO, "id", "source", "target", "size")
		tp.AddRow(res.ID, res.Source, res.Target, sizeCell(opts.IO, res.PlaintextSize))
		return tp.Render(w)
	})
	if err != nil {
		return err
	}
	s.done("restored %s/%s into %s", res.Source, res.ID, res.Target)
	return nil
}
