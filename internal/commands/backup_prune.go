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

// BackupPruneOptions are the inputs of `backup prune`.
type BackupPruneOptions struct {
	BackupOptions

	Source string
	DryRun bool
	// Policy is set when any --keep-* flag was given: the flags then
	// replace backup.retention as a whole.
	Policy *backup.Policy
}

type backupPruneResult struct {
	FormatVersion  int                   `json:"format_version"`
	Repository     string                `json:"repository"`
	DryRun         bool                  `json:"dry_run"`
	Policy         backupPrunePolicy     `json:"policy"`
	Backups        []backupPruneDecision `json:"backups"`
	Kept           int                   `json:"kept"`
	Deleted        int                   `json:"deleted"`
	Failed         int                   `json:"failed"`
	AbortedUploads int                   `json:"aborted_uploads"`
	Warnings       []string              `json:"warnings"`
}

type backupPrunePolicy struct {
	KeepLast    int `json:"keep_last"`
	KeepDays    int `json:"keep_days"`
	KeepDaily   int `json:"keep_daily"`
	KeepWeekly  int `json:"keep_weekly"`
	KeepMonthly int `json:"keep_monthly"`
}

type backupPruneDecision struct {
	ID     string    `json:"id"`
	Source string    `json:"source"`
	Time   time.Time `json:"time"`
	State  string    `json:"state"`
	// Action is keep, delete (done, or to do in a dry run) or failed.
	Action  string   `json:"action"`
	Reasons []string `json:"reasons"`
	Error   string   `json:"error,omitempty"`
}

func newBackupPruneCmd(f *Factory, runF func(*BackupPruneOptions) error) *cobra.Command {
	opts := &BackupPruneOptions{}
	var keep backup.Policy
	cmd := &cobra.Command{
		Use:   "prune --repo NAME|URL [--source NAME] [--keep-last N] [--keep-days N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run]",
		Short: "Delete the backups the retention policy no longer keeps",
		Long: `Apply the retention policy to the backups of one source (--source) or of
every source in the repository. A complete backup is kept if any rule keeps
it, and the newest complete backup of a source is always kept:

  --keep-last N      the N newest
  --keep-days N      every backup younger than N days
  --keep-daily N     the newest of each of the last N days that have one
  --keep-weekly N    ... of each of the last N ISO weeks
  --keep-monthly N   ... of each of the last N months (all in UTC)

Without --keep-* flags the policy is backup.retention (by default: 30
days); any --keep-* flag replaces that policy as a whole. A policy with no
rule keeps 30 days.

Incomplete backups (no manifest) older than 24 hours and abandoned uploads
are removed too; damaged backups are never deleted, but left for you to
inspect. A backup's manifest is deleted first, so an interrupted prune
never leaves a backup that looks complete. Prune takes the source's lock:
it waits for no running backup, it fails (exit 11) instead.

--dry-run prints the decisions and changes nothing. Piped, each backup is
one line: id, source, time, state, keep|delete|failed, reasons.

Exit status: 0 pruned (or nothing to prune); 10 the bucket or the
repository directory does not exist; 11 a backup of the source is
running (its lock is held); 2 bad usage or configuration; 4 the repository
refused the credentials; 75 the repository was unreachable (safe to retry);
1 some deletions failed (listed).`,
		Example: `  # What the configured policy would delete
  repairxctl backup prune --repo offsite --dry-run

  # A week of dailies, 8 weeklies and a year of monthlies for one source
  repairxctl backup prune --repo offsite --source main --keep-daily 7 --keep-weekly 8 --keep-monthly 12`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validSourceFlag(opts.Source); err != nil {
				return err
			}
			for _, name := range []string{"keep-last", "keep-days", "keep-daily", "keep-weekly", "keep-monthly"} {
				if cmd.Flags().Changed(name) {
					opts.Policy = &keep
				}
			}
			if keep.KeepLast < 0 || keep.KeepDays < 0 || keep.KeepDaily < 0 || keep.KeepWeekly < 0 || keep.KeepMonthly < 0 {
				return exitcode.Usagef("--keep-* counts must not be negative")
			}
			backupOptions(f, &opts.BackupOptions)
			if runF != nil {
				return runF(opts)
			}
			return backupPruneRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Source, "source", "", "prune only the backups of source `NAME`")
	fl.IntVar(&keep.KeepLast, "keep-last", 0, "keep the `N` newest complete backups")
	fl.IntVar(&keep.KeepDays, "keep-days", 0, "keep every complete backup younger than `N` days")
	fl.IntVar(&keep.KeepDaily, "keep-daily", 0, "keep the newest backup of each of the last `N` days")
	fl.IntVar(&keep.KeepWeekly, "keep-weekly", 0, "keep the newest backup of each of the last `N` weeks")
	fl.IntVar(&keep.KeepMonthly, "keep-monthly", 0, "keep the newest backup of each of the last `N` months")
	fl.BoolVarP(&opts.DryRun, "dry-run", "n", false, "print what would be deleted and change nothing")
	return cmd
}

func backupPruneRun(ctx context.Context, opts *BackupPruneOptions) error {
	s, err := openBackupSession(ctx, &opts.BackupOptions)
	if err != nil {
		return err
	}
	policy := opts.Policy
	if policy == nil {
		r := s.cfg.Backup.Retention
		policy = &backup.Policy{KeepLast: r.KeepLast, KeepDays: r.KeepDays, KeepDaily: r.KeepDaily, KeepWeekly: r.KeepWeekly, KeepMonthly: r.KeepMonthly}
	}
	out, err := backup.Prune(ctx, s.repo, opts.Source, *policy, opts.Now(), opts.DryRun)
	if out == nil {
		return backupError(ctx, err)
	}
	res := backupPruneResult{FormatVersion: 1, Repository: s.repo.URL(), DryRun: out.DryRun, Backups: []backupPruneDecision{},
		Kept: out.Kept, Deleted: out.Deleted, AbortedUploads: out.AbortedUploads, Warnings: append([]string{}, out.Warnings...),
		Policy: backupPrunePolicy{KeepLast: policy.KeepLast, KeepDays: policy.KeepDays, KeepDaily: policy.KeepDaily, KeepWeekly: policy.KeepWeekly, KeepMonthly: policy.KeepMonthly}}
	if res.Policy == (backupPrunePolicy{}) {
		res.Policy.KeepDays = backup.DefaultKeepDays
	}
	for _, d := range out.Decisions {
		v := backupPruneDecision{ID: d.Entry.ID, Source: d.Entry.Source, Time: d.Entry.Time.UTC(), State: string(d.Entry.State),
			Action: "keep", Reasons: append([]string{}, d.Reasons...)}
		switch {
		case d.Keep:
		case d.Err != nil:
			v.Action, v.Error = "failed", d.Err.Error()
			res.Failed++
		default:
			v.Action = "delete"
		}
		res.Backups = append(res.Backups, v)
	}
	perr := s.p.Print(res, func(w io.Writer) error {
		ios := opts.IO
		tp := ui.NewTablePrinter(ios, "id", "source", "time", "state", "action", "why")
		for _, b := range res.Backups {
			action := b.Action
			if action == "delete" && res.DryRun && ios.IsStdoutTTY() {
				action = "would delete"
			}
			why := strings.Join(b.Reasons, "; ")
			if b.Error != "" {
				why = b.Error
			}
			tp.AddRow(b.ID, b.Source, ios.Time(b.Time, opts.Now()), b.State, action, why)
		}
		return tp.Render(w)
	})
	if err != nil {
		return backupError(ctx, err)
	}
	if perr != nil {
		return perr
	}
	for _, w := range res.Warnings {
		s.note("warning: %s", w)
	}
	if res.DryRun {
		s.done("dry run: would keep %d and delete %s", res.Kept, plural(res.Deleted, "backup"))
	} else {
		s.done("kept %d, deleted %s%s", res.Kept, plural(res.Deleted, "backup"), abortedNote(res.AbortedUploads))
	}
	return nil
}

func abortedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", removed %s", plural(n, "abandoned upload"))
}
