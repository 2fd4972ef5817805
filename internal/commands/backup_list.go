package commands

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/ui"
)

// BackupListOptions are the inputs of `backup list`.
type BackupListOptions struct {
	BackupOptions

	Source string // "" for every source
}

type backupListResult struct {
	FormatVersion int               `json:"format_version"`
	Repository    string            `json:"repository"`
	Backups       []backupListEntry `json:"backups"`
	Summary       backupListSummary `json:"summary"`
}

// backupListEntry is one backup in the list.
type backupListEntry struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	SourceKind string    `json:"source_kind"`
	Time       time.Time `json:"time"`
	// State is complete, incomplete (no manifest: never restored) or
	// damaged (never restored, never pruned).
	State   string `json:"state"`
	Problem string `json:"problem,omitempty"`
	// StoredSize is the bytes stored in the repository.
	StoredSize      int64      `json:"stored_size"`
	PlaintextSize   int64      `json:"plaintext_size"`
	DurationSeconds float64    `json:"duration_seconds"`
	Encryption      string     `json:"encryption"`
	EncryptedTo     []string   `json:"encrypted_to"`
	Host            string     `json:"host"`
	VerifiedAt      *time.Time `json:"verified_at"`
	RestoreTested   bool       `json:"restore_tested"`
}

type backupListSummary struct {
	Backups     int `json:"backups"`
	Complete    int `json:"complete"`
	Incomplete  int `json:"incomplete"`
	Damaged     int `json:"damaged"`
	Unencrypted int `json:"unencrypted"`
	Verified    int `json:"verified"`
}

func newBackupListCmd(f *Factory, runF func(*BackupListOptions) error) *cobra.Command {
	opts := &BackupListOptions{}
	cmd := &cobra.Command{
		Use:     "list --repo NAME|URL [--source NAME]",
		Aliases: []string{"ls"},
		Short:   "List the backups in a repository",
		Long: `List the backups in a repository, oldest first: id, source, start time,
stored size, duration, who can decrypt it (the age recipients, or
UNENCRYPTED), when it was last verified, and its state:

  complete     it has its manifest and its data object matches it
  incomplete   no manifest: the run failed, was killed or is still running;
               never restored, removed by prune after 24 hours
  damaged      the manifest is unreadable or does not match the data;
               never restored, left by prune for you to inspect

Piped, each backup is one line of tab-separated fields without a header:
id, source, time (RFC 3339), stored bytes, duration in seconds, recipients
(comma-separated), verified-at, state. -o json adds sizes, the host and
the encryption mode, with a summary.

Exit status: 0 listed, also when there is no backup; 2 bad usage or
configuration; 4 the repository refused the credentials; 10 the bucket
or the repository directory does not exist; 75 the repository was
unreachable (safe to retry).`,
		Example: `  repairxctl backup list --repo offsite
  repairxctl backup list --repo file:///var/backups/repairx --source main

  # The newest complete backup's id
  repairxctl backup list --repo offsite --source main -o json |
    jq -r '[.backups[] | select(.state == "complete")] | last | .id'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validSourceFlag(opts.Source); err != nil {
				return err
			}
			backupOptions(f, &opts.BackupOptions)
			if runF != nil {
				return runF(opts)
			}
			return backupListRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd)
	cmd.Flags().StringVar(&opts.Source, "source", "", "only the backups of source `NAME`")
	return cmd
}

func backupListRun(ctx context.Context, opts *BackupListOptions) error {
	s, err := openBackupSession(ctx, &opts.BackupOptions)
	if err != nil {
		return err
	}
	entries, err := backup.List(ctx, s.repo, opts.Source)
	if err != nil {
		return backupError(ctx, err)
	}
	res := backupListResult{FormatVersion: 1, Repository: s.repo.URL(), Backups: []backupListEntry{}}
	for _, e := range entries {
		v := newBackupListEntry(e)
		res.Backups = append(res.Backups, v)
		res.Summary.Backups++
		switch e.State {
		case backup.StateComplete:
			res.Summary.Complete++
		case backup.StateIncomplete:
			res.Summary.Incomplete++
		case backup.StateDamaged:
			res.Summary.Damaged++
		}
		if v.Encryption == backup.EncryptionNone {
			res.Summary.Unencrypted++
		}
		if v.VerifiedAt != nil {
			res.Summary.Verified++
		}
	}
	err = s.p.Print(res, func(w io.Writer) error {
		ios := opts.IO
		now := opts.Now()
		tp := ui.NewTablePrinter(ios, "id", "source", "time", "size", "duration", "encrypted to", "verified", "state")
		for _, b := range res.Backups {
			verified := ""
			if b.VerifiedAt != nil {
				verified = ios.Time(*b.VerifiedAt, now)
			}
			tp.AddRow(b.ID, b.Source, ios.Time(b.Time, now), sizeCell(ios, b.StoredSize), durationCell(ios, b.DurationSeconds),
				recipientsCell(ios, b.EncryptedTo), verified, b.State)
		}
		return tp.Render(w)
	})
	if err != nil {
		return err
	}
	if len(res.Backups) == 0 && !s.cfg.Quiet && s.p.Format == ui.Table {
		where := s.repo.URL()
		if opts.Source != "" {
			where = "source " + opts.Source + " in " + where
		}
		s.note("no backups of %s", where)
	}
	return nil
}

func newBackupListEntry(e backup.Entry) backupListEntry {
	v := backupListEntry{ID: e.ID, Source: e.Source, Time: e.Time.UTC(), State: string(e.State), Problem: e.Problem,
		StoredSize: e.StoredBytes, EncryptedTo: []string{}}
	if m := e.Manifest; m != nil {
		v.SourceKind = string(m.Source.Kind)
		v.StoredSize = m.Data.StoredSize
		v.PlaintextSize = m.Data.PlaintextSize
		v.DurationSeconds = m.DurationSeconds
		v.Encryption = m.Encryption.Mode
		v.EncryptedTo = encryptedTo(m)
		v.Host = m.Host
	}
	if vf := e.Verification; vf != nil {
		t := vf.VerifiedAt.UTC()
		v.VerifiedAt = &t
		v.RestoreTested = vf.RestoreTest
	}
	return v
}
