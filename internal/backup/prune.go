package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// DefaultKeepDays is the retention of a Policy with no rule set.
const DefaultKeepDays = 30

// DefaultIncompleteGrace is how long an incomplete backup is left alone: its
// run may still be writing its manifest.
const DefaultIncompleteGrace = 24 * time.Hour

// Policy is a retention policy. A complete backup is kept if any rule keeps
// it; the newest complete backup is always kept. A Policy with no rule set
// keeps DefaultKeepDays days. Days, weeks (ISO) and months are UTC.
type Policy struct {
	// KeepLast keeps the N newest complete backups.
	KeepLast int
	// KeepDays keeps every complete backup younger than N days.
	KeepDays int
	// KeepDaily, KeepWeekly and KeepMonthly keep the newest complete
	// backup of each of the N most recent days, weeks and months that
	// have one.
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	// IncompleteGrace is the age after which an incomplete backup is
	// deleted; 0 means DefaultIncompleteGrace.
	IncompleteGrace time.Duration
}

// DefaultPolicy returns the retention used when none is configured.
func DefaultPolicy() Policy { return Policy{KeepDays: DefaultKeepDays} }

func (p Policy) normalise() (Policy, error) {
	for _, v := range []int{p.KeepLast, p.KeepDays, p.KeepDaily, p.KeepWeekly, p.KeepMonthly} {
		if v < 0 {
			return p, errors.New("retention counts must not be negative")
		}
	}
	if p.IncompleteGrace < 0 {
		return p, errors.New("the incomplete-backup grace period must not be negative")
	}
	if p.KeepLast == 0 && p.KeepDays == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0 {
		p.KeepDays = DefaultKeepDays
	}
	if p.IncompleteGrace == 0 {
		p.IncompleteGrace = DefaultIncompleteGrace
	}
	return p, nil
}

// PruneDecision is what Prune does with one backup, and why.
type PruneDecision struct {
	Entry   Entry    `json:"entry"`
	Keep    bool     `json:"keep"`
	Reasons []string `json:"reasons"`
	// Err is set when the deletion failed.
	Err error `json:"-"`
}

// PruneResult lists Prune's decisions, oldest backup first.
type PruneResult struct {
	DryRun    bool            `json:"dry_run"`
	Decisions []PruneDecision `json:"decisions"`
	Kept      int             `json:"kept"`
	// Deleted counts the backups deleted (to delete, in a dry run).
	Deleted int `json:"deleted"`
	// AbortedUploads counts the abandoned uploads removed.
	AbortedUploads int `json:"aborted_uploads"`
	// Warnings: [] when none.
	Warnings []string `json:"warnings"`
}

// Prune applies p to the backups of source (every source when "") as of
// now. Complete backups no rule keeps are deleted; incomplete backups older
// than p.IncompleteGrace are deleted; damaged backups are always kept, for
// an operator to look at. The newest complete backup is never deleted. A
// backup is deleted manifest first, so an interrupted prune leaves an
// incomplete backup, never a "complete" one with missing data. Abandoned
// multipart uploads older than the grace period are aborted too.
//
// With dryRun nothing changes. Otherwise Prune holds each source's lock
// while it deletes (ErrLocked while a backup runs).
func Prune(ctx context.Context, r repo.Repository, source string, p Policy, now time.Time, dryRun bool) (*PruneResult, error) {
	p, err := p.normalise()
	if err != nil {
		return nil, err
	}
	entries, err := List(ctx, r, source)
	if err != nil {
		return nil, err
	}
	rep := newReporter(nil)
	res := &PruneResult{DryRun: dryRun, Decisions: []PruneDecision{}}
	var sources []string
	bySource := map[string][]Entry{}
	for _, e := range entries {
		if _, ok := bySource[e.Source]; !ok {
			sources = append(sources, e.Source)
		}
		bySource[e.Source] = append(bySource[e.Source], e)
	}
	if source != "" && !slices.Contains(sources, source) {
		sources = append(sources, source) // still abort its stale uploads
	}
	var errs []error
	for _, src := range sources {
		decisions := decide(bySource[src], p, now)
		if !dryRun {
			if err := apply(ctx, r, src, decisions, p, rep, res); err != nil {
				errs = append(errs, err)
			}
		}
		res.Decisions = append(res.Decisions, decisions...)
	}
	slices.SortStableFunc(res.Decisions, func(a, b PruneDecision) int {
		if c := a.Entry.Time.Compare(b.Entry.Time); c != 0 {
			return c
		}
		return compareStrings(a.Entry.ID, b.Entry.ID)
	})
	for _, d := range res.Decisions {
		if d.Keep {
			res.Kept++
		} else if d.Err == nil {
			res.Deleted++
		}
	}
	res.Warnings = rep.list()
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("pruning: %w", err)
	}
	return res, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decide applies the policy to one source's backups (oldest first).
func decide(entries []Entry, p Policy, now time.Time) []PruneDecision {
	decisions := make([]PruneDecision, len(entries))
	for i, e := range entries {
		decisions[i] = PruneDecision{Entry: e}
	}
	keep := func(i int, reason string) {
		decisions[i].Keep = true
		decisions[i].Reasons = append(decisions[i].Reasons, reason)
	}
	// Complete backups, newest first.
	var complete []int
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].State == StateComplete {
			complete = append(complete, i)
		}
	}
	for n, i := range complete {
		e := entries[i]
		if n == 0 {
			keep(i, "the newest complete backup")
		}
		if n < p.KeepLast {
			keep(i, fmt.Sprintf("keep-last %d", p.KeepLast))
		}
		// Whole days, compared as such: KeepDays*24h overflows a Duration
		// past 106751 days and would then keep nothing.
		if p.KeepDays > 0 && now.Sub(e.Time)/(24*time.Hour) < time.Duration(p.KeepDays) {
			keep(i, fmt.Sprintf("keep-days %d", p.KeepDays))
		}
	}
	buckets := []struct {
		n    int
		name string
		key  func(time.Time) string
	}{
		{p.KeepDaily, "keep-daily", func(t time.Time) string { return t.UTC().Format("2006-01-02") }},
		{p.KeepWeekly, "keep-weekly", func(t time.Time) string {
			y, w := t.UTC().ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{p.KeepMonthly, "keep-monthly", func(t time.Time) string { return t.UTC().Format("2006-01") }},
	}
	for _, b := range buckets {
		seen := map[string]bool{}
		for _, i := range complete {
			if len(seen) >= b.n {
				break
			}
			k := b.key(entries[i].Time)
			if !seen[k] {
				seen[k] = true
				keep(i, fmt.Sprintf("%s %d (%s)", b.name, b.n, k))
			}
		}
	}
	for i, e := range entries {
		switch e.State {
		case StateComplete:
			if !decisions[i].Keep {
				decisions[i].Reasons = append(decisions[i].Reasons, "no retention rule keeps it")
			}
		case StateIncomplete:
			age := now.Sub(lastActivity(e))
			if age < p.IncompleteGrace {
				keep(i, fmt.Sprintf("incomplete, but younger than %s: its run may still be going", p.IncompleteGrace))
			} else {
				decisions[i].Reasons = append(decisions[i].Reasons, fmt.Sprintf("incomplete for longer than %s (%s)", p.IncompleteGrace, e.Problem))
			}
		case StateDamaged:
			keep(i, "damaged ("+e.Problem+"): inspect it and delete it by hand")
		}
	}
	return decisions
}

// lastActivity is the later of a backup's start and its newest object.
func lastActivity(e Entry) time.Time {
	t := e.Time
	for _, o := range e.Objects {
		if o.Modified.After(t) {
			t = o.Modified
		}
	}
	return t
}

// apply deletes what decide did not keep, under the source's lock.
func apply(ctx context.Context, r repo.Repository, source string, decisions []PruneDecision, p Policy, rep *reporter, res *PruneResult) error {
	if err := ValidateSourceName(source); err != nil {
		return err
	}
	lk, err := acquireLock(ctx, r, source, lockOptions{operation: "prune", ttl: DefaultLockTTL, now: time.Now, rep: rep})
	if err != nil {
		return err
	}
	defer func() {
		if err := lk.release(ctx); err != nil {
			rep.warn(err.Error())
		}
	}()
	var errs []error
	for i := range decisions {
		d := &decisions[i]
		if d.Keep {
			continue
		}
		if err := deleteBackup(ctx, r, d.Entry); err != nil {
			d.Err = err
			errs = append(errs, err)
		}
	}
	n, err := r.AbortIncomplete(ctx, source+"/", p.IncompleteGrace)
	if err != nil {
		errs = append(errs, fmt.Errorf("aborting abandoned uploads of %s: %w", source, err))
	}
	res.AbortedUploads += n
	return errors.Join(errs...)
}

// deleteBackup removes a backup's objects, the manifest first.
func deleteBackup(ctx context.Context, r repo.Repository, e Entry) error {
	order := func(key string) int {
		switch key[len(e.Prefix()):] {
		case manifestName:
			return 0
		case verifiedName:
			return 1
		}
		return 2
	}
	objs := slices.Clone(e.Objects)
	slices.SortStableFunc(objs, func(a, b repo.Object) int { return order(a.Key) - order(b.Key) })
	for _, o := range objs {
		if err := r.Delete(ctx, o.Key); err != nil && !errors.Is(err, repo.ErrNotFound) {
			return fmt.Errorf("deleting %s: %w", o.Key, err)
		}
	}
	return nil
}
