package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// BackupVerifyOptions are the inputs of `backup verify`.
type BackupVerifyOptions struct {
	BackupOptions

	Ref          string // an id, source/id, latest or a time
	Source       string
	IdentityFile string
	RestoreTest  bool
	ScratchDB    string // a URL without password, or a postgres source's name
	ForceScratch bool
}

type backupVerifyResult struct {
	FormatVersion  int                       `json:"format_version"`
	ID             string                    `json:"id"`
	Source         string                    `json:"source"`
	Repository     string                    `json:"repository"`
	StoredBytes    int64                     `json:"stored_bytes"`
	PlaintextBytes int64                     `json:"plaintext_bytes"`
	SHA256         string                    `json:"sha256"`
	Content        backup.ContentCheck       `json:"content"`
	RestoreTest    *backup.RestoreTestReport `json:"restore_test"`
	VerifiedAt     time.Time                 `json:"verified_at"`
	Recorded       bool                      `json:"recorded"`
	Warnings       []string                  `json:"warnings"`
}

func newBackupVerifyCmd(f *Factory, runF func(*BackupVerifyOptions) error) *cobra.Command {
	opts := &BackupVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify ID|latest|TIME --repo NAME|URL [--identity FILE] [--restore-test --scratch-db URL|NAME]",
		Short: "Check that a backup is whole and can be decrypted",
		Long: `Download a backup and check it end to end without restoring it: the stored
object's size and SHA-256, age's authentication of every chunk (which also
proves the identity is the right one), zstd's checksums, and the plaintext's
size and SHA-256, all against the manifest. Then read inside: a PostgreSQL
dump's table of contents must parse (pg_restore --list), a tar is walked
entry by entry, a SQLite file must carry its header.

The backup is an id (20261123T020000Z-k3fa2b, or source/id), latest (the
newest complete backup) or a time (the newest complete backup started at or
before it: RFC 3339 or 2006-01-02). Name the source with --source when the
repository holds several.

--identity FILE is the age identity from 'backup keygen' (or set
backup.identity, a secret such as file:PATH); backups made with --passphrase
read backup.passphrase; unencrypted backups need none.

--restore-test also restores a PostgreSQL backup into the scratch database
--scratch-db (which must exist and be empty, unless --force-scratch) and
compares every table's row count and checksum with those recorded when the
backup was made. The restored data stays there: drop the database after.
As everywhere, a URL given as a flag must not hold a password: use
PGPASSWORD, ~/.pgpass, or name a postgres source of backup.sources.

A successful verification is recorded beside the backup (verified.json),
which 'backup list' shows.

Exit status: 0 verified; 12 the backup does not match its manifest, is
damaged or truncated, cannot be decrypted with the identity (a wrong key),
or a restore test found different data; 10 no such backup (or it is
incomplete); 2 bad usage or configuration, or an encrypted backup and no
identity; 4 the repository refused the credentials; 75 the repository was
unreachable (safe to retry); 130 interrupted; 1 anything else.`,
		Example: `  # The newest backup of the only source in the repository
  repairxctl backup verify latest --repo offsite --identity ~/backup-identity.txt

  # A given backup, with a restore into a scratch database (password from ~/.pgpass)
  createdb -h db-scratch restore_drill
  repairxctl backup verify main/20261123T020000Z-k3fa2b --repo offsite --identity id.txt \
    --restore-test --scratch-db postgres://postgres@db-scratch/restore_drill`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := validSourceFlag(opts.Source); err != nil {
				return err
			}
			if err := checkBackupRef(opts.Ref); err != nil {
				return err
			}
			if opts.RestoreTest != (opts.ScratchDB != "") {
				return exitcode.Usagef("--restore-test and --scratch-db go together")
			}
			backupOptions(f, &opts.BackupOptions)
			if runF != nil {
				return runF(opts)
			}
			return backupVerifyRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Source, "source", "", "the backup's source `NAME` (when the repository holds several)")
	fl.StringVar(&opts.IdentityFile, "identity", "", "decrypt with the age identity in `FILE` (default backup.identity; backup.passphrase reads --passphrase backups)")
	fl.BoolVar(&opts.RestoreTest, "restore-test", false, "also restore a PostgreSQL backup into --scratch-db and compare every table")
	fl.StringVar(&opts.ScratchDB, "scratch-db", "", "the empty scratch database: a `URL` without password, or a postgres source's name")
	fl.BoolVar(&opts.ForceScratch, "force-scratch", false, "restore into the scratch database even if it is not empty")
	_ = cmd.MarkFlagFilename("identity", "txt", "key")
	return cmd
}

// checkBackupRef refuses, as a usage error, what Resolve cannot take.
func checkBackupRef(ref string) error {
	r := ref
	if _, id, ok := strings.Cut(ref, "/"); ok {
		r = id
	}
	if r == "latest" {
		return nil
	}
	if _, err := backup.ParseID(r); err == nil {
		return nil
	}
	if _, err := backup.ParseTime(r); err == nil {
		return nil
	}
	return exitcode.Usagef("%q is neither latest, a backup id (20261123T020000Z-k3fa2b, or source/id) nor a time (RFC 3339 or 2006-01-02)", ref)
}

func backupVerifyRun(ctx context.Context, opts *BackupVerifyOptions) error {
	s, err := openBackupSession(ctx, &opts.BackupOptions)
	if err != nil {
		return err
	}
	ids, err := readIdentities(s.cfg, opts.IO, opts.IdentityFile)
	if err != nil {
		return err
	}
	vo := backup.VerifyOptions{Now: opts.Now}
	if opts.RestoreTest {
		u, err := postgresTarget(s.cfg, "--scratch-db", opts.ScratchDB)
		if err != nil {
			return err
		}
		vo.RestoreTest = &backup.RestoreTest{DatabaseURL: u, Force: opts.ForceScratch, StagingDir: s.cfg.Backup.StagingDir}
	}
	entry, err := backup.Resolve(ctx, s.repo, opts.Source, opts.Ref)
	if err != nil {
		return backupError(ctx, err)
	}
	progress := newBackupProgress(s)
	vo.Reporter = progress
	rep, err := backup.Verify(ctx, s.repo, entry.Ref, ids, vo)
	progress.Done()
	if err != nil {
		return backupError(ctx, err)
	}
	res := backupVerifyResult{FormatVersion: 1, ID: entry.ID, Source: entry.Source, Repository: s.repo.URL(),
		StoredBytes: rep.StoredBytes, PlaintextBytes: rep.PlaintextBytes, Content: rep.Content, RestoreTest: rep.RestoreTest,
		VerifiedAt: rep.VerifiedAt.UTC(), Recorded: rep.Recorded, Warnings: append([]string{}, rep.Warnings...)}
	if rep.Manifest != nil {
		res.SHA256 = rep.Manifest.Data.SHA256Stored
	}
	err = s.p.Print(res, func(w io.Writer) error {
		ios := opts.IO
		tp := ui.NewTablePrinter(ios, "id", "source", "size", "plaintext", "content", "restore test", "verified")
		content := fmt.Sprintf("%s, %d entries", res.Content.Format, res.Content.Entries)
		restoreTest := "-"
		if rt := res.RestoreTest; rt != nil {
			restoreTest = fmt.Sprintf("%d tables, %d mismatches", len(rt.Tables), rt.Mismatches)
			if !rt.Compared {
				restoreTest = fmt.Sprintf("%d tables restored (nothing recorded to compare)", len(rt.Tables))
			}
		}
		tp.AddRow(res.ID, res.Source, sizeCell(ios, res.StoredBytes), sizeCell(ios, res.PlaintextBytes), content, restoreTest, ios.Time(res.VerifiedAt, opts.Now()))
		return tp.Render(w)
	})
	if err != nil {
		return err
	}
	s.done("%s/%s verified: %s read, every checksum matches", res.Source, res.ID, humanBytes(res.StoredBytes))
	return nil
}
