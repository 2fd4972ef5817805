package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/version"
)

// RunOptions configure Run.
type RunOptions struct {
	// Encryption is required: recipients, a passphrase, or Unencrypted.
	Encryption Encryption
	// CompressionLevel is the zstd level, 1 to 22; 0 means
	// DefaultCompressionLevel. klauspost/compress maps levels onto four
	// encoders (1-2 fastest, 3-5 default, 6-9 better, 10+ best).
	CompressionLevel int
	// Concurrency bounds the zstd blocks compressed at once; 0 means
	// min(4, GOMAXPROCS). Memory grows with it (a few window sizes each).
	Concurrency int
	// PartSize is the multipart upload's part size, passed to the
	// repository; 0 lets it choose.
	PartSize int64
	// LockTTL is the lock's lifetime without renewal; 0 means DefaultLockTTL.
	LockTTL time.Duration
	// Reporter receives progress (PhaseBackup) and warnings; nil discards them.
	Reporter Reporter
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Result is a successful run's outcome.
type Result struct {
	Manifest *Manifest `json:"manifest"`
	// Warnings are those also sent to the Reporter; [] when none.
	Warnings []string `json:"warnings"`
}

// Run backs src up into r: it takes the source's lock, streams the dump
// through SHA-256, zstd, age and SHA-256 into <source>/<id>/data.zst.age,
// then writes <source>/<id>/manifest.json and releases the lock.
//
// Nothing is buffered whole: memory is bounded by the zstd window and blocks
// in flight and by the repository's upload parts. A failure anywhere (the
// dump program exiting non-zero even after all its output was read, an
// upload error, ctx cancelled) aborts the upload and writes no manifest; if
// the data object was already complete it is deleted, and if that fails too
// it stays behind as an incomplete backup that List flags and Prune removes.
func Run(ctx context.Context, r repo.Repository, src Source, o RunOptions) (*Result, error) {
	rep := newReporter(o.Reporter)
	res, err := run(ctx, r, src, o, rep)
	if err != nil {
		return nil, fmt.Errorf("backup of %q: %w", src.Name(), err)
	}
	res.Warnings = rep.list()
	return res, nil
}

func run(ctx context.Context, r repo.Repository, src Source, o RunOptions, rep *reporter) (*Result, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	name := src.Name()
	if err := ValidateSourceName(name); err != nil {
		return nil, err
	}
	mode, err := o.Encryption.mode()
	if err != nil {
		return nil, err
	}
	recipients, err := o.Encryption.ageRecipients()
	if err != nil {
		return nil, err
	}
	level := o.CompressionLevel
	if level == 0 {
		level = DefaultCompressionLevel
	}
	if level < 1 || level > 22 {
		return nil, fmt.Errorf("zstd level %d is out of range: use 1 to 22", level)
	}
	concurrency := o.Concurrency
	if concurrency <= 0 {
		concurrency = defaultConcurrency()
	}
	ttl := o.LockTTL
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}

	started := now().UTC()
	ref := Ref{Source: name, ID: NewID(started)}
	lk, err := acquireLock(ctx, r, name, lockOptions{operation: "backup", ttl: ttl, now: now, rep: rep})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := lk.release(ctx); err != nil {
			rep.warn(err.Error())
		}
	}()

	dump, err := src.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer dump.Close()

	dataKey := ref.dataKey(mode != EncryptionNone)
	pr, pw := io.Pipe()
	type outcome struct {
		enc encoded
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		enc, err := encode(pw, dump, recipients, level, concurrency, func(n int64) { rep.progress(PhaseBackup, n, 0) })
		// The upload sees the dump's error instead of EOF and aborts.
		pw.CloseWithError(err)
		done <- outcome{enc, err}
	}()
	stored, putErr := r.Put(ctx, dataKey, pr, repo.PutOptions{
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{"repairx-backup-id": ref.ID, "repairx-source": name},
		PartSize:    o.PartSize,
	})
	// Unblock the encoder if the upload stopped reading early.
	if putErr != nil {
		pr.CloseWithError(putErr)
	} else {
		pr.CloseWithError(errors.New("the repository stopped reading before the end of the data"))
	}
	out := <-done
	var srcErr *sourceError
	switch {
	case (out.err != nil || putErr != nil) && ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	case errors.As(out.err, &srcErr):
		return nil, srcErr.err
	case putErr != nil:
		return nil, fmt.Errorf("uploading %s: %w", dataKey, putErr)
	case out.err != nil:
		return nil, fmt.Errorf("uploading %s: %w", dataKey, out.err)
	case stored != out.enc.storedSize:
		removeIncomplete(ctx, r, dataKey, rep)
		return nil, fmt.Errorf("uploading %s: the repository stored %d bytes of %d", dataKey, stored, out.enc.storedSize)
	}
	if err := dump.Close(); err != nil {
		// The data is complete and checked; only the cleanup failed.
		rep.warn(fmt.Sprintf("cleaning up after the dump: %v", err))
	}
	finished := now().UTC()

	info := version.Get()
	host, _ := os.Hostname()
	m := &Manifest{
		FormatVersion:   FormatVersion,
		ID:              ref.ID,
		Tool:            Tool{Name: "repairxctl", Version: info.Version, Commit: info.Commit},
		Host:            host,
		Source:          dump.Info(),
		StartedAt:       started,
		FinishedAt:      finished,
		CreatedAt:       now().UTC(),
		DurationSeconds: finished.Sub(started).Seconds(),
		Data: DataInfo{
			Object:          dataKey[len(ref.Prefix()):],
			PlaintextSize:   out.enc.plainSize,
			CompressedSize:  out.enc.compressedSize,
			StoredSize:      out.enc.storedSize,
			SHA256Stored:    out.enc.storedSum,
			SHA256Plaintext: out.enc.plainSum,
		},
		Compression: Compression{Algorithm: "zstd", Level: level, Encoder: zstd.EncoderLevelFromZstd(level).String()},
		Encryption:  EncryptionInfo{Mode: mode, Recipients: o.Encryption.recipientStrings()},
	}
	m.Source.Name, m.Source.Kind = name, src.Kind()
	if len(m.Source.Skipped) > 0 {
		rep.warn(fmt.Sprintf("left out entries that cannot be archived: %s", strings.Join(m.Source.Skipped, ", ")))
	}
	if err := m.check(ref); err != nil {
		removeIncomplete(ctx, r, dataKey, rep)
		return nil, fmt.Errorf("internal error: the new manifest is invalid: %w", err)
	}
	body, err := marshalJSON(m)
	if err != nil {
		removeIncomplete(ctx, r, dataKey, rep)
		return nil, err
	}
	// The manifest last: until it exists the backup is incomplete.
	if _, err := r.Put(ctx, ref.manifestKey(), bytes.NewReader(body), repo.PutOptions{ContentType: "application/json"}); err != nil {
		removeIncomplete(ctx, r, dataKey, rep)
		return nil, fmt.Errorf("writing the manifest %s: %w", ref.manifestKey(), err)
	}
	return &Result{Manifest: m}, nil
}

// removeIncomplete deletes the data object of a failed run, best effort:
// left behind, it is an incomplete backup that Prune removes.
func removeIncomplete(ctx context.Context, r repo.Repository, key string, rep *reporter) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := r.Delete(ctx, key); err != nil && !errors.Is(err, repo.ErrNotFound) {
		rep.warn(fmt.Sprintf("could not remove the incomplete backup object %s (prune will): %v", key, err))
	}
}
