package backup_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
)

// backupAt runs a backup of source as if at t.
func backupAt(t *testing.T, r repo.Repository, source string, at time.Time) *backup.Manifest {
	t.Helper()
	res, err := backup.Run(t.Context(), r, &memSource{name: source, data: []byte("data of " + source)}, backup.RunOptions{
		Encryption: backup.Encryption{Unencrypted: true},
		Now:        func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest
}

func TestListAndResolve(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	day := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	a1 := backupAt(t, r, "alpha", day)
	a2 := backupAt(t, r, "alpha", day.Add(24*time.Hour))
	a3 := backupAt(t, r, "alpha", day.Add(48*time.Hour))
	b1 := backupAt(t, r, "beta", day.Add(time.Hour))
	// A stray object and the lock are not backups.
	putObject(t, r, "alpha/README", []byte("x"))

	all, err := backup.List(t.Context(), r, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.String())
		if !e.Complete() || e.Manifest == nil || e.StoredBytes <= e.Manifest.Data.StoredSize {
			t.Errorf("%s: %+v", e.Ref, e)
		}
	}
	want := []string{a1.Ref().String(), b1.Ref().String(), a2.Ref().String(), a3.Ref().String()}
	if !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q (oldest first)", got, want)
	}

	resolve := func(source, ref string) (string, error) {
		e, err := backup.Resolve(t.Context(), r, source, ref)
		return e.String(), err
	}
	for _, tc := range []struct{ source, ref, want string }{
		{"alpha", "latest", a3.Ref().String()},
		{"beta", "latest", b1.Ref().String()},
		{"alpha", a2.ID, a2.Ref().String()},
		{"", a2.ID, a2.Ref().String()},
		{"", "alpha/" + a1.ID, a1.Ref().String()},
		{"alpha", "2026-11-21", a2.Ref().String()}, // a day means to its end
		{"alpha", "2026-11-21T01:59:59Z", a1.Ref().String()},
		{"alpha", "2026-11-21T02:00:00Z", a2.Ref().String()},
		{"alpha", "2026-11-21T04:00:00+02:00", a2.Ref().String()},
		{"alpha", "2030-01-01", a3.Ref().String()},
	} {
		got, err := resolve(tc.source, tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q, %q) = %s, %v; want %s", tc.source, tc.ref, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		source, ref string
		want        error
	}{
		{"alpha", "2026-11-19", backup.ErrNotFound},
		{"gamma", "latest", backup.ErrNotFound},
		{"alpha", "20261120T020000Z-222222", backup.ErrNotFound},
		{"beta", a1.ID, backup.ErrNotFound},
	} {
		_, err := resolve(tc.source, tc.ref)
		mustErr(t, err, tc.want)
	}
	// The caller's words cannot work: ErrBadReference (a usage error), never
	// "not found".
	if _, err := resolve("", "latest"); !errors.Is(err, backup.ErrBadReference) || !strings.Contains(err.Error(), "alpha, beta") {
		t.Errorf("latest of several sources: %v", err)
	}
	if _, err := resolve("alpha", "yesterday-ish"); !errors.Is(err, backup.ErrBadReference) || errors.Is(err, backup.ErrNotFound) {
		t.Errorf("a malformed reference: %v", err)
	}
	if _, err := resolve("beta", "alpha/latest"); !errors.Is(err, backup.ErrBadReference) {
		t.Errorf("source/ref naming another source: %v", err)
	}
	if _, err := backup.List(t.Context(), r, "../x"); !errors.Is(err, backup.ErrBadReference) {
		t.Errorf("an invalid source name: %v", err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	now := time.Now().UTC()
	var ms []*backup.Manifest
	for _, age := range []int{40, 20, 10, 1} {
		ms = append(ms, backupAt(t, r, "db", now.AddDate(0, 0, -age)))
	}
	// An incomplete backup (its manifest never written), and a damaged one.
	inc := backupAt(t, r, "db", now.AddDate(0, 0, -5))
	if err := r.Delete(t.Context(), inc.Ref().Prefix()+"manifest.json"); err != nil {
		t.Fatal(err)
	}
	dam := backupAt(t, r, "db", now.AddDate(0, 0, -30))
	putObject(t, r, dam.Ref().Prefix()+"manifest.json", []byte("{broken"))
	other := backupAt(t, r, "other", now.AddDate(0, 0, -100))

	policy := backup.Policy{KeepDays: 15, IncompleteGrace: time.Hour}
	before := keys(t, r, "")
	// Just now, the incomplete backup's objects are younger than the grace period.
	res, err := backup.Prune(t.Context(), r, "db", policy, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Deleted != 2 || res.Kept != 4 {
		t.Errorf("dry run: deleted %d, kept %d: %+v", res.Deleted, res.Kept, res.Decisions)
	}
	if after := keys(t, r, ""); !slices.Equal(before, after) {
		t.Errorf("a dry run changed the repository")
	}

	res, err = backup.Prune(t.Context(), r, "db", policy, now.Add(2*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	decided := map[string]backup.PruneDecision{}
	for _, d := range res.Decisions {
		decided[d.Entry.ID] = d
	}
	for _, tc := range []struct {
		id     string
		keep   bool
		reason string
	}{
		{ms[0].ID, false, "no retention rule"},
		{ms[1].ID, false, "no retention rule"},
		{ms[2].ID, true, "keep-days 15"},
		{ms[3].ID, true, "the newest complete backup"},
		{inc.ID, false, "incomplete"},
		{dam.ID, true, "damaged"},
	} {
		d, ok := decided[tc.id]
		if !ok || d.Keep != tc.keep || !strings.Contains(strings.Join(d.Reasons, "; "), tc.reason) {
			t.Errorf("%s: %+v, want keep=%v because %q", tc.id, d, tc.keep, tc.reason)
		}
	}
	if _, ok := decided[other.ID]; ok {
		t.Error("pruning db decided about another source")
	}
	entries, _ := backup.List(t.Context(), r, "")
	var left []string
	for _, e := range entries {
		left = append(left, e.ID)
	}
	want := []string{other.ID, dam.ID, ms[2].ID, ms[3].ID}
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	if _, err := backup.ReadLock(t.Context(), r, "db"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("prune left its lock: %v", err)
	}

	// Never the newest complete backup, whatever the policy: a year on, no
	// rule of this one keeps any backup (keep-last would keep the newest by
	// itself and prove nothing).
	res, err = backup.Prune(t.Context(), r, "", backup.Policy{KeepDays: 1}, now.AddDate(1, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	newest := false
	for _, d := range res.Decisions {
		if d.Entry.ID == ms[3].ID {
			newest = d.Keep && strings.Contains(strings.Join(d.Reasons, "; "), "the newest complete backup")
		}
	}
	if !newest {
		t.Errorf("the newest complete backup %s was not kept as such: %+v", ms[3].ID, res.Decisions)
	}
	entries, _ = backup.List(t.Context(), r, "")
	left = left[:0]
	for _, e := range entries {
		left = append(left, e.ID)
	}
	if want := []string{other.ID, dam.ID, ms[3].ID}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	id, rec, err := backup.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "AGE-SECRET-KEY-1") || !strings.HasPrefix(rec, "age1") {
		t.Fatalf("GenerateIdentity = %q, %q", id[:16], rec)
	}
	file := backup.FormatIdentityFile(id, rec, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if !bytes.Contains(file, []byte("# public key: "+rec+"\n")) || !bytes.Contains(file, []byte("# created: 2026-01-02T03:04:05Z")) {
		t.Errorf("identity file:\n%s", file)
	}
	ids, err := backup.ParseIdentities(bytes.NewReader(file))
	if err != nil || len(ids) != 1 {
		t.Fatalf("ParseIdentities = %v, %v", ids, err)
	}
	// A recipients file: comments, blank lines, commas; an identity file's
	// public key comment is not a recipient.
	_, rec2, _ := backup.GenerateIdentity()
	recs, err := backup.ParseRecipients(strings.NewReader("# team\n" + rec + ", " + rec2 + "\n\n"))
	if err != nil || len(recs) != 2 || recs[0].String() != rec || recs[1].String() != rec2 {
		t.Errorf("ParseRecipients = %v, %v", recs, err)
	}
	if _, err := backup.ParseRecipients(bytes.NewReader(file)); err == nil || strings.Contains(err.Error(), id) {
		t.Errorf("an identity file as recipients: %v", err)
	}
	for _, bad := range []string{"", "age1notakey", id, "ssh-ed25519 AAAA"} {
		_, err := backup.ParseRecipient(bad)
		if err == nil {
			t.Errorf("ParseRecipient(%.20q) accepted", bad)
		} else if strings.Contains(err.Error(), "AGE-SECRET-KEY") && strings.Contains(err.Error(), id[16:]) {
			t.Errorf("the error echoes a secret key: %v", err)
		}
	}
	if _, err := backup.ParseIdentities(strings.NewReader(rec)); err == nil {
		t.Error("a recipient was accepted as an identity")
	}
}
