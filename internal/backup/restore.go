package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"filippo.io/age"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// Target is where Restore writes a backup. Set exactly one of Database, Dir
// and File.
type Target struct {
	// Database is a PostgreSQL URL (postgres backups only). The database
	// must exist and be empty unless Force, which also makes pg_restore
	// drop the objects it restores first (--clean --if-exists).
	Database string
	// Dir is a directory. A tar backup (directory sources, postgres
	// directory-format dumps) is extracted into it; a single-file backup is
	// written into it as its file (the store's file name for embedded,
	// <database>.dump for a custom-format dump). It must be missing or
	// empty unless Force.
	Dir string
	// File is a file for the backup's plaintext as one file: the SQLite
	// store, the custom-format dump, or the tar. It must not exist unless
	// Force.
	File string
	// Force allows a non-empty target.
	Force bool

	// Jobs is pg_restore --jobs for directory-format dumps (default 1).
	Jobs int
	// NoOwner restores without setting owners (pg_restore --no-owner), for
	// a server that lacks the original roles.
	NoOwner bool
	// StagingDir is where a directory-format dump is staged before
	// pg_restore reads it; "" means the system's temporary directory.
	StagingDir string
	// BinDir overrides where pg_restore is looked for.
	BinDir string
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Reporter receives progress (PhaseVerify, PhaseRestore) and warnings.
	Reporter Reporter
	// SkipPreVerify skips the verification pass that precedes a restore
	// into a database or a non-empty directory (see Restore). Set it only
	// right after a successful Verify of the same backup.
	SkipPreVerify bool
}

// RestoreResult describes a successful restore.
type RestoreResult struct {
	Manifest *Manifest `json:"manifest"`
	// Target is where the backup went: a path, or the database URL
	// without its password.
	Target string `json:"target"`
	// PreVerified is true when a full verification pass ran first.
	PreVerified bool `json:"pre_verified"`
	// Warnings are those also sent to the Reporter; [] when none.
	Warnings []string `json:"warnings"`
}

// Restore restores the backup ref into t, decrypting with ids. Only a
// complete backup is restored (ErrIncomplete otherwise); every byte is
// checked against the manifest's checksums on the way, and a mismatch is
// ErrIntegrity. A non-empty target is refused with ErrTargetNotEmpty unless
// t.Force.
//
// No target is left half-restored without a clear error:
//   - A file is written beside its destination and renamed into place only
//     after its checksums matched; on failure nothing changes.
//   - A directory that is missing or empty is extracted into a sibling
//     staging directory and renamed into place after the checks. A
//     non-empty one (Force) is extracted in place after a full
//     verification pass; should the second pass still fail, the error says
//     the directory is partially restored.
//   - A PostgreSQL custom-format dump is restored from pg_restore's stdin
//     after a full verification pass (the backup is downloaded twice), in a
//     single transaction (--single-transaction --exit-on-error): if the
//     second pass fails, pg_restore is killed before it commits and the
//     database is unchanged; if pg_restore fails, its transaction rolls back.
//   - A directory-format dump is staged locally (in t.StagingDir) and
//     checked before pg_restore starts; with t.Jobs > 1 pg_restore cannot
//     use one transaction, so its failure leaves a partial restore, which
//     the error says.
func Restore(ctx context.Context, r repo.Repository, ref Ref, ids []age.Identity, t Target, o RestoreOptions) (*RestoreResult, error) {
	rep := newReporter(o.Reporter)
	m, err := ReadManifest(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	res, err := restore(ctx, r, m, ids, t, o, rep)
	if err != nil {
		return nil, fmt.Errorf("restoring %s: %w", ref, err)
	}
	res.Manifest = m
	res.Warnings = rep.list()
	return res, nil
}

func restore(ctx context.Context, r repo.Repository, m *Manifest, ids []age.Identity, t Target, o RestoreOptions, rep *reporter) (*RestoreResult, error) {
	set := 0
	for _, s := range []string{t.Database, t.Dir, t.File} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("give exactly one restore target: a database URL, a directory or a file")
	}
	if m.Encrypted() && len(ids) == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrIdentityRequired, describeEncryption(m.Encryption))
	}
	rs := &restorer{r: r, m: m, ids: ids, t: t, o: o, rep: rep}
	switch {
	case t.Database != "":
		if m.Source.Kind != KindPostgres {
			return nil, fmt.Errorf("a %s backup cannot be restored into a database: restore it to a directory or file", m.Source.Kind)
		}
		return rs.toDatabase(ctx)
	case t.File != "":
		return rs.toFile(ctx, t.File)
	}
	if isTar(m) {
		return rs.toDir(ctx, t.Dir)
	}
	name := m.Source.FileName
	if m.Source.Kind == KindPostgres {
		name = m.Source.Database + ".dump"
	}
	if name == "" || !filepath.IsLocal(name) {
		name = m.Source.Name + ".data"
	}
	path := filepath.Join(t.Dir, name)
	if !t.Force {
		if empty, err := dirEmpty(t.Dir); err != nil {
			return nil, err
		} else if !empty {
			return nil, fmt.Errorf("%w: directory %s is not empty (use force to write %s into it)", ErrTargetNotEmpty, t.Dir, name)
		}
	}
	return rs.toFile(ctx, path)
}

// isTar reports whether a backup's plaintext is a tar.
func isTar(m *Manifest) bool {
	return m.Source.Kind == KindDirectory || (m.Source.Kind == KindPostgres && m.Source.DumpFormat == FormatDirectory)
}

// restorer holds one restore's inputs.
type restorer struct {
	r   repo.Repository
	m   *Manifest
	ids []age.Identity
	t   Target
	o   RestoreOptions
	rep *reporter
}

func (rs *restorer) progress(phase Phase) func(int64) {
	total := rs.m.Data.PlaintextSize
	return func(n int64) { rs.rep.progress(phase, n, total) }
}

func (rs *restorer) open(ctx context.Context) (*dataReader, error) {
	return openData(ctx, rs.r, rs.m, rs.ids, rs.progress(PhaseRestore))
}

// preVerify reads and checks the whole backup without writing anything.
func (rs *restorer) preVerify(ctx context.Context) (bool, error) {
	if rs.o.SkipPreVerify {
		return false, nil
	}
	if err := readAll(ctx, rs.r, rs.m, rs.ids, io.Discard, rs.progress(PhaseVerify)); err != nil {
		return false, fmt.Errorf("verifying before restoring (nothing was changed): %w", err)
	}
	return true, nil
}

// toFile writes the plaintext to path through a temporary file beside it.
func (rs *restorer) toFile(ctx context.Context, path string) (*RestoreResult, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case err == nil && !rs.t.Force:
		return nil, fmt.Errorf("%w: %s exists (use force to replace it)", ErrTargetNotEmpty, path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if rs.m.Source.Kind == KindEmbedded {
		if err := checkNoWAL(path); err != nil {
			return nil, err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := readAll(ctx, rs.r, rs.m, rs.ids, tmp, rs.progress(PhaseRestore)); err != nil {
		return nil, fmt.Errorf("%w (%s was not changed)", err, path)
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if rs.m.Source.Kind == KindEmbedded {
		// A stale shared-memory index must not outlive the file it indexed.
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	ok = true
	syncDir(dir)
	return &RestoreResult{Target: path}, nil
}

// checkNoWAL refuses to replace a SQLite database whose WAL holds commits:
// a server is using it (or crashed), and the old WAL applied to the restored
// file would corrupt it.
func checkNoWAL(path string) error {
	fi, err := os.Stat(path + "-wal")
	if err == nil && fi.Size() > 0 {
		return fmt.Errorf("%s-wal is not empty: the store is in use or was not closed cleanly; stop serve (it checkpoints on exit) and retry", path)
	}
	return nil
}

// syncDir makes a rename durable, best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// dirEmpty reports whether dir is missing or empty.
func dirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// toDir extracts a tar backup into dir.
func (rs *restorer) toDir(ctx context.Context, dir string) (*RestoreResult, error) {
	dir = filepath.Clean(dir)
	empty, err := dirEmpty(dir)
	if err != nil {
		return nil, err
	}
	chown := os.Geteuid() == 0
	if !empty {
		if !rs.t.Force {
			return nil, fmt.Errorf("%w: directory %s is not empty (use force to restore over it)", ErrTargetNotEmpty, dir)
		}
		pre, err := rs.preVerify(ctx)
		if err != nil {
			return nil, err
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		if err := rs.extract(ctx, root, chown); err != nil {
			return nil, fmt.Errorf("%w: the directory %s is PARTIALLY RESTORED; restore again before using it", err, dir)
		}
		return &RestoreResult{Target: dir, PreVerified: pre}, nil
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-*")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(staging)
		}
	}()
	root, err := os.OpenRoot(staging)
	if err != nil {
		return nil, err
	}
	err = rs.extract(ctx, root, chown)
	root.Close()
	if err != nil {
		return nil, fmt.Errorf("%w (%s was not changed)", err, dir)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(staging, dir); err != nil {
		return nil, err
	}
	ok = true
	syncDir(parent)
	return &RestoreResult{Target: dir}, nil
}

// extract streams the backup's tar into root and checks it.
func (rs *restorer) extract(ctx context.Context, root *os.Root, chown bool) error {
	d, err := rs.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return extractChecked(ctx, d, root, extractOptions{chown: chown})
}

// extractChecked extracts the tar read from d and then checks d. A tar or
// file system error that the checksums explain is reported as ErrIntegrity.
func extractChecked(ctx context.Context, d *dataReader, root *os.Root, o extractOptions) error {
	_, err := extractTree(ctx, tar.NewReader(d), root, o)
	if err != nil {
		if errors.Is(err, ErrIntegrity) || d.src.err != nil || ctx.Err() != nil {
			return err
		}
		if ferr := d.finish(); ferr != nil {
			return ferr
		}
		return fmt.Errorf("extracting: %w", err)
	}
	return d.finish()
}

// toDatabase restores a postgres backup into the target database.
func (rs *restorer) toDatabase(ctx context.Context) (*RestoreResult, error) {
	u, err := parsePGURL(rs.t.Database)
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return nil, err
	}
	srv, err := queryServer(ctx, conn)
	var contents string
	if err == nil {
		contents, err = describeContents(ctx, conn)
	}
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if contents != "" && !rs.t.Force {
		return nil, fmt.Errorf("%w: database %s holds %s (use force to restore over it)", ErrTargetNotEmpty, u.redacted, contents)
	}
	tool, err := pgToolAtLeast(rs.t.BinDir, max(srv.versionNum, rs.m.Source.ServerVersionNum), "pg_restore")
	if err != nil {
		return nil, err
	}
	args := []string{"--dbname=" + u.noSecret, "--no-password", "--exit-on-error"}
	if contents != "" {
		args = append(args, "--clean", "--if-exists")
	}
	if rs.t.NoOwner {
		args = append(args, "--no-owner")
	}
	res := &RestoreResult{Target: u.redacted}
	if rs.m.Source.DumpFormat == FormatDirectory {
		return res, rs.directoryDump(ctx, u, tool, args)
	}
	if res.PreVerified, err = rs.preVerify(ctx); err != nil {
		return nil, err
	}
	return res, rs.customDump(ctx, u, tool, append(args, "--single-transaction"))
}

// pgRestore builds a pg_restore command that dies with its context.
func pgRestore(ctx context.Context, u pgURL, tool string, args []string) (*exec.Cmd, *tailBuffer) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = u.env("repairxctl-restore")
	ownProcessGroup(cmd)
	stderr := newTailBuffer()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	return cmd, stderr
}

// customDump streams a custom-format dump into pg_restore's stdin. The
// backup's checks complete before stdin is closed: on a failure pg_restore
// is killed, its single transaction never commits.
func (rs *restorer) customDump(ctx context.Context, u pgURL, tool string, args []string) error {
	cmdCtx, kill := context.WithCancel(ctx)
	defer kill()
	cmd, stderr := pgRestore(cmdCtx, u, tool, args)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	d, err := rs.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", tool, err)
	}
	w := &toolStdin{w: stdin}
	_, err = io.Copy(w, d)
	if err == nil {
		err = d.finish()
	}
	if err != nil {
		if w.gone != nil {
			// pg_restore ended before the check failed.
			if werr := cmd.Wait(); werr == nil {
				return fmt.Errorf("%w; pg_restore had already COMMITTED: the database %s holds a restore of a backup that failed its check: drop it", err, u.redacted)
			}
			return fmt.Errorf("%w; pg_restore failed too (%s), its transaction rolled back: the database %s is unchanged", err, stderr, u.redacted)
		}
		kill()
		_ = cmd.Wait()
		return fmt.Errorf("%w; pg_restore was stopped before committing: the database %s is unchanged", err, u.redacted)
	}
	stdin.Close()
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("%w (the restore ran in one transaction, which rolled back: the database %s is unchanged)", toolError("pg_restore", werr, stderr), u.redacted)
	}
	return nil
}

// directoryDump stages a directory-format dump, checks it, then runs
// pg_restore on it.
func (rs *restorer) directoryDump(ctx context.Context, u pgURL, tool string, args []string) error {
	staging, err := os.MkdirTemp(rs.t.StagingDir, "repairxctl-pgrestore-*")
	if err != nil {
		return fmt.Errorf("staging the directory-format dump: %w", err)
	}
	defer os.RemoveAll(staging)
	root, err := os.OpenRoot(staging)
	if err != nil {
		return err
	}
	d, err := rs.open(ctx)
	if err != nil {
		root.Close()
		return err
	}
	err = extractChecked(ctx, d, root, extractOptions{})
	d.Close()
	root.Close()
	if err != nil {
		return fmt.Errorf("%w (the database %s was not changed)", err, u.redacted)
	}
	jobs := max(rs.t.Jobs, 1)
	args = append(args, "--format=directory", "--jobs="+strconv.Itoa(jobs))
	if jobs == 1 {
		args = append(args, "--single-transaction")
	}
	cmd, stderr := pgRestore(ctx, u, tool, append(args, staging))
	if err := cmd.Run(); err != nil {
		if jobs == 1 {
			return fmt.Errorf("%w (the restore ran in one transaction, which rolled back: the database %s is unchanged)", toolError("pg_restore", err, stderr), u.redacted)
		}
		return fmt.Errorf("%w: the database %s is PARTIALLY RESTORED (parallel restores cannot use one transaction): drop and recreate it before retrying",
			toolError("pg_restore", err, stderr), u.redacted)
	}
	return nil
}

// toolStdin writes to a tool's stdin until the tool stops reading, then
// discards, so that the backup is still read to its end and checked.
type toolStdin struct {
	w    io.Writer
	gone error
}

func (t *toolStdin) Write(p []byte) (int, error) {
	if t.gone == nil {
		if _, err := t.w.Write(p); err != nil {
			t.gone = err
		}
	}
	return len(p), nil
}
