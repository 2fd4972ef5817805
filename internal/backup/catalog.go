package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// State says whether a backup can be restored.
type State string

// The states of a listed backup.
const (
	// StateComplete: the manifest is valid and the data object's size matches.
	StateComplete State = "complete"
	// StateIncomplete: no manifest. The run failed, was killed, or is still
	// running. Never restored; Prune removes it after a grace period.
	StateIncomplete State = "incomplete"
	// StateDamaged: a manifest that does not parse or describes a data
	// object that is missing or of another size. Never restored, counted by
	// no retention rule, and left for an operator to inspect.
	StateDamaged State = "damaged"
)

// Entry is one backup found in a repository.
type Entry struct {
	Ref
	// Time is the backup's start, from its id (to the millisecond).
	Time  time.Time `json:"time"`
	State State     `json:"state"`
	// Problem explains a damaged or incomplete state.
	Problem string `json:"problem,omitempty"`
	// Manifest is set for complete backups (and damaged ones whose
	// manifest parsed).
	Manifest *Manifest `json:"manifest,omitempty"`
	// Verification is the last successful Verify, or nil.
	Verification *Verification `json:"verification,omitempty"`
	// Objects are the backup's objects; StoredBytes their total size.
	Objects     []repo.Object `json:"-"`
	StoredBytes int64         `json:"stored_bytes"`
}

// Complete reports whether the entry can be restored.
func (e Entry) Complete() bool { return e.State == StateComplete }

// listConcurrency bounds the manifest downloads List runs at once.
const listConcurrency = 8

// List returns the backups of source in r, or of every source when source
// is "", oldest first (ids sort by time). Backups without a manifest are
// listed as StateIncomplete, never as complete. A manifest that cannot be
// downloaded fails the listing (repo.ErrUnavailable passes through); one
// that is downloaded but invalid makes its entry StateDamaged.
func List(ctx context.Context, r repo.Repository, source string) ([]Entry, error) {
	prefix := ""
	if source != "" {
		if err := ValidateSourceName(source); err != nil {
			return nil, badRef("%v", err)
		}
		prefix = source + "/"
	}
	objs, err := r.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", r.URL(), err)
	}
	byRef := map[Ref]*Entry{}
	for _, o := range objs {
		ref, _, ok := splitKey(o.Key)
		if !ok {
			continue
		}
		e := byRef[ref]
		if e == nil {
			t, _ := ParseID(ref.ID)
			e = &Entry{Ref: ref, Time: t}
			byRef[ref] = e
		}
		e.Objects = append(e.Objects, o)
		e.StoredBytes += o.Size
	}
	entries := make([]*Entry, 0, len(byRef))
	for _, e := range byRef {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].ID != entries[j].ID {
			return entries[i].ID < entries[j].ID
		}
		return entries[i].Source < entries[j].Source
	})

	// Read the manifests and verification markers, a few at a time.
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	errs := make([]error, len(entries))
	for i, e := range entries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = describe(ctx, r, e)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = *e
	}
	return out, nil
}

// describe fills in e's state from its objects and manifest.
func describe(ctx context.Context, r repo.Repository, e *Entry) error {
	has := func(name string) (repo.Object, bool) {
		for _, o := range e.Objects {
			if o.Key == e.Prefix()+name {
				return o, true
			}
		}
		return repo.Object{}, false
	}
	if _, ok := has(manifestName); !ok {
		e.State, e.Problem = StateIncomplete, "no manifest: the run failed, was interrupted or is still running"
		return nil
	}
	m, err := readManifest(ctx, r, e.Ref)
	if errors.Is(err, ErrIntegrity) {
		e.State, e.Problem = StateDamaged, err.Error()
		return nil
	}
	if errors.Is(err, ErrIncomplete) {
		// Deleted between the listing and now (a concurrent prune).
		e.State, e.Problem = StateIncomplete, "no manifest"
		return nil
	}
	if err != nil {
		return err
	}
	e.Manifest = m
	data, ok := has(m.Data.Object)
	switch {
	case !ok:
		e.State, e.Problem = StateDamaged, "the data object "+m.Data.Object+" is missing"
		return nil
	case data.Size != m.Data.StoredSize:
		e.State, e.Problem = StateDamaged, fmt.Sprintf("the data object is %d bytes, the manifest says %d", data.Size, m.Data.StoredSize)
		return nil
	}
	e.State = StateComplete
	if _, ok := has(verifiedName); ok {
		v, err := readVerification(ctx, r, e.Ref)
		if err == nil && v.SHA256Stored == m.Data.SHA256Stored {
			e.Verification = v
		}
	}
	return nil
}

// ReadManifest reads and checks the manifest of a backup. A missing manifest
// is ErrIncomplete (and ErrNotFound), an invalid one ErrIntegrity.
func ReadManifest(ctx context.Context, r repo.Repository, ref Ref) (*Manifest, error) {
	if err := ValidateSourceName(ref.Source); err != nil {
		return nil, err
	}
	if _, err := ParseID(ref.ID); err != nil {
		return nil, err
	}
	return readManifest(ctx, r, ref)
}

func readManifest(ctx context.Context, r repo.Repository, ref Ref) (*Manifest, error) {
	b, err := getSmall(ctx, r, ref.manifestKey())
	if errors.Is(err, repo.ErrNotFound) {
		return nil, fmt.Errorf("backup %s: %w: its run failed, was interrupted or is still running", ref, ErrIncomplete)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: reading its manifest: %w", ref, err)
	}
	return parseManifest(ref, b)
}

func readVerification(ctx context.Context, r repo.Repository, ref Ref) (*Verification, error) {
	b, err := getSmall(ctx, r, ref.verifiedKey())
	if err != nil {
		return nil, err
	}
	var v Verification
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// maxSmallObject bounds what getSmall reads: manifests with thousands of
// table summaries stay far below it.
const maxSmallObject = 64 << 20

// getSmall reads a small object whole.
func getSmall(ctx context.Context, r repo.Repository, key string) ([]byte, error) {
	rc, err := r.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallObject+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmallObject {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, maxSmallObject)
	}
	return b, nil
}

// Resolve finds the backup ref names:
//   - "latest": the newest complete backup;
//   - an id (20261123T020000Z-k3fa2b) or source/id;
//   - a time (RFC 3339, "2006-01-02T15:04:05" or "2006-01-02", UTC unless
//     it says otherwise): the newest complete backup started at or before it.
//
// source may be "" when the repository holds one source, or with an id. No
// match is ErrNotFound; an id whose backup is incomplete is ErrIncomplete,
// a damaged one ErrIntegrity.
func Resolve(ctx context.Context, r repo.Repository, source, ref string) (Entry, error) {
	ref = strings.TrimSpace(ref)
	if s, id, ok := strings.Cut(ref, "/"); ok {
		if source != "" && source != s {
			return Entry{}, badRef("%q names source %q, not %q", ref, s, source)
		}
		source, ref = s, id
	}
	if ref == "latest" {
		return resolveAt(ctx, r, source, nil, "latest")
	}
	if _, err := ParseID(ref); err == nil {
		return resolveID(ctx, r, source, ref)
	}
	t, err := ParseTime(ref)
	if err != nil {
		return Entry{}, badRef("%q is neither \"latest\", a backup id nor a time (RFC 3339 or 2006-01-02)", ref)
	}
	return resolveAt(ctx, r, source, &t, ref)
}

// ResolveAt finds the newest complete backup of source started at or before t.
func ResolveAt(ctx context.Context, r repo.Repository, source string, t time.Time) (Entry, error) {
	return resolveAt(ctx, r, source, &t, t.UTC().Format(time.RFC3339))
}

// ParseTime parses the times Resolve accepts.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if layout == "2006-01-02" {
				// A day means up to its end.
				t = t.Add(24*time.Hour - time.Second)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

func resolveID(ctx context.Context, r repo.Repository, source, id string) (Entry, error) {
	entries, err := List(ctx, r, source)
	if err != nil {
		return Entry{}, err
	}
	var found []Entry
	for _, e := range entries {
		if e.ID == id {
			found = append(found, e)
		}
	}
	switch {
	case len(found) == 0:
		where := r.URL()
		if source != "" {
			where = fmt.Sprintf("source %q in %s", source, r.URL())
		}
		return Entry{}, fmt.Errorf("backup %s: %w in %s", id, ErrNotFound, where)
	case len(found) > 1:
		return Entry{}, badRef("backup id %s exists in several sources; name one (source/id)", id)
	}
	return usable(found[0])
}

// usable returns e if it can be restored, else its state's error.
func usable(e Entry) (Entry, error) {
	switch e.State {
	case StateIncomplete:
		return e, fmt.Errorf("backup %s: %w: it cannot be restored (%s)", e.Ref, ErrIncomplete, e.Problem)
	case StateDamaged:
		return e, integrityf(e.Ref, "%s", e.Problem)
	}
	return e, nil
}

// resolveAt finds the newest complete backup started at or before *at, or
// the newest of all when at is nil: the zero time (0001-01-01T00:00:00Z)
// is a time like any other, not "latest".
func resolveAt(ctx context.Context, r repo.Repository, source string, at *time.Time, what string) (Entry, error) {
	entries, err := List(ctx, r, source)
	if err != nil {
		return Entry{}, err
	}
	if source == "" {
		var sources []string
		for _, e := range entries {
			if !slices.Contains(sources, e.Source) {
				sources = append(sources, e.Source)
			}
		}
		if len(sources) > 1 {
			return Entry{}, badRef("%s holds backups of several sources (%s): name one with --source", r.URL(), strings.Join(sources, ", "))
		}
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Complete() && (at == nil || !e.Time.After(*at)) {
			return e, nil
		}
	}
	where := r.URL()
	if source != "" {
		where = fmt.Sprintf("source %q in %s", source, r.URL())
	}
	if at == nil {
		return Entry{}, fmt.Errorf("%w: no complete backup of %s", ErrNotFound, where)
	}
	return Entry{}, fmt.Errorf("%w: no complete backup of %s at or before %s", ErrNotFound, where, what)
}
