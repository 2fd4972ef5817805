package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/version"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Reporter receives progress (PhaseVerify, PhaseRestore) and warnings.
	Reporter Reporter
	// BinDir overrides where pg_restore is looked for.
	BinDir string
	// RestoreTest, when set, also restores a PostgreSQL backup into a
	// scratch database and compares it with the manifest's table summary.
	RestoreTest *RestoreTest
	// NoRecord skips writing verified.json after a successful verification.
	NoRecord bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RestoreTest names the scratch database of a restore test. It must exist
// and be empty unless Force. The restored data stays there afterwards: drop
// the database when done.
type RestoreTest struct {
	DatabaseURL string
	Force       bool
	// Jobs, NoOwner and StagingDir are as in Target.
	Jobs       int
	NoOwner    bool
	StagingDir string
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Manifest *Manifest `json:"manifest"`
	// StoredBytes and PlaintextBytes were read and matched the manifest.
	StoredBytes    int64        `json:"stored_bytes"`
	PlaintextBytes int64        `json:"plaintext_bytes"`
	Content        ContentCheck `json:"content"`
	// RestoreTest is set when one ran.
	RestoreTest *RestoreTestReport `json:"restore_test,omitempty"`
	// VerifiedAt is zero unless the verification succeeded.
	VerifiedAt time.Time `json:"verified_at"`
	// Recorded is true when verified.json was written.
	Recorded bool `json:"recorded"`
	// Warnings are those also sent to the Reporter; [] when none.
	Warnings []string `json:"warnings"`
}

// ContentCheck is what Verify read inside the plaintext.
type ContentCheck struct {
	// Format is "pg_dump custom", "pg_dump directory", "sqlite" or "tar".
	Format string `json:"format"`
	// Entries counts the dump's table of contents (pg_restore --list) or
	// the tar's entries.
	Entries int `json:"entries"`
	// TableData counts the TABLE DATA entries of a pg_dump archive.
	TableData int `json:"table_data"`
}

// RestoreTestReport compares a restored database with the manifest.
type RestoreTestReport struct {
	// Database is the scratch database's URL without its password.
	Database string `json:"database"`
	// Compared is false when the manifest has no table summary: rows were
	// counted but there was nothing to compare them with.
	Compared   bool         `json:"compared"`
	Tables     []TableCheck `json:"tables"`
	Mismatches int          `json:"mismatches"`
}

// TableCheck is one table of a restore test.
type TableCheck struct {
	Schema           string `json:"schema"`
	Name             string `json:"name"`
	Rows             int64  `json:"rows"`
	ExpectedRows     int64  `json:"expected_rows"`
	Checksum         string `json:"checksum"`
	ExpectedChecksum string `json:"expected_checksum"`
	// Problem is "" when the table matches (or nothing was compared).
	Problem string `json:"problem,omitempty"`
}

// Verify reads the backup ref end to end without restoring it: the data
// object's size and SHA-256, age's authentication of every chunk, zstd's
// frame checksums and the plaintext's size and SHA-256 must all match the
// manifest. It also reads inside the plaintext: a PostgreSQL custom dump is
// piped through `pg_restore --list` (its table of contents must parse), a
// directory-format dump's toc.dat likewise, a tar is walked entry by entry,
// and a SQLite file must start with the SQLite header. With
// o.RestoreTest a PostgreSQL backup is then restored into the scratch
// database and each table's row count and checksum compared with the
// manifest.
//
// Any mismatch, a wrong identity or a failed restore test is ErrIntegrity;
// the report is returned with the error when there is one to show. On
// success Verify records verified.json beside the manifest (see
// Verification) unless o.NoRecord; failing to record is only a warning.
func Verify(ctx context.Context, r repo.Repository, ref Ref, ids []age.Identity, o VerifyOptions) (*VerifyReport, error) {
	rep := newReporter(o.Reporter)
	report, err := verify(ctx, r, ref, ids, o, rep)
	if report != nil {
		report.Warnings = rep.list()
	}
	if err != nil {
		return report, fmt.Errorf("verifying %s: %w", ref, err)
	}
	return report, nil
}

func verify(ctx context.Context, r repo.Repository, ref Ref, ids []age.Identity, o VerifyOptions, rep *reporter) (*VerifyReport, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m, err := ReadManifest(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	if o.RestoreTest != nil && m.Source.Kind != KindPostgres {
		return nil, fmt.Errorf("restore tests are implemented for PostgreSQL backups; this is a %s backup", m.Source.Kind)
	}
	total := m.Data.PlaintextSize
	d, err := openData(ctx, r, m, ids, func(n int64) { rep.progress(PhaseVerify, n, total) })
	if err != nil {
		return nil, err
	}
	defer d.Close()
	report := &VerifyReport{Manifest: m}
	if report.Content, err = checkContent(ctx, d, m, o.BinDir); err != nil {
		return nil, err
	}
	report.StoredBytes, report.PlaintextBytes = d.stored.n, d.plain.n

	if o.RestoreTest != nil {
		rt := o.RestoreTest
		t := Target{Database: rt.DatabaseURL, Force: rt.Force, Jobs: rt.Jobs, NoOwner: rt.NoOwner, StagingDir: rt.StagingDir, BinDir: o.BinDir}
		if _, err := restore(ctx, r, m, ids, t, RestoreOptions{SkipPreVerify: true}, rep); err != nil {
			return report, fmt.Errorf("restore test: %w", err)
		}
		report.RestoreTest, err = compareRestored(ctx, m, rt.DatabaseURL)
		if err != nil {
			return report, fmt.Errorf("restore test: %w", err)
		}
		if !report.RestoreTest.Compared {
			rep.warn("the manifest has no table summary (the backup ran without it): rows were counted, contents not compared")
		}
		if n := report.RestoreTest.Mismatches; n > 0 {
			return report, integrityf(ref, "restore test: %d of %d tables differ from the manifest (first: %s)",
				n, len(report.RestoreTest.Tables), firstProblem(report.RestoreTest.Tables))
		}
	}

	report.VerifiedAt = now().UTC()
	if !o.NoRecord {
		if err := recordVerification(ctx, r, m, report.VerifiedAt, o.RestoreTest != nil); err != nil {
			rep.warn(fmt.Sprintf("the backup is good, but recording its verification failed: %v", err))
		} else {
			report.Recorded = true
		}
	}
	return report, nil
}

func firstProblem(tables []TableCheck) string {
	for _, t := range tables {
		if t.Problem != "" {
			return t.Schema + "." + t.Name + ": " + t.Problem
		}
	}
	return ""
}

func recordVerification(ctx context.Context, r repo.Repository, m *Manifest, at time.Time, restoreTest bool) error {
	host, _ := os.Hostname()
	body, err := marshalJSON(Verification{
		FormatVersion: FormatVersion,
		VerifiedAt:    at,
		Host:          host,
		ToolVersion:   version.Get().Version,
		SHA256Stored:  m.Data.SHA256Stored,
		RestoreTest:   restoreTest,
	})
	if err != nil {
		return err
	}
	_, err = r.Put(ctx, m.Ref().verifiedKey(), bytes.NewReader(body), repo.PutOptions{ContentType: "application/json"})
	return err
}

// checkContent reads the whole plaintext from d, looking inside it as its
// format allows, and finishes d (checksums).
func checkContent(ctx context.Context, d *dataReader, m *Manifest, binDir string) (ContentCheck, error) {
	ref := m.Ref()
	switch {
	case m.Source.Kind == KindPostgres && m.Source.DumpFormat == FormatCustom:
		c := ContentCheck{Format: "pg_dump custom"}
		tool, err := pgToolAtLeast(binDir, m.Source.ServerVersionNum, "pg_restore")
		if err != nil {
			return c, err
		}
		cmd := exec.CommandContext(ctx, tool, "--list")
		ownProcessGroup(cmd)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return c, err
		}
		toc := &tocCounter{}
		stderr := newTailBuffer()
		cmd.Stdout, cmd.Stderr = toc, stderr
		if err := cmd.Start(); err != nil {
			return c, fmt.Errorf("starting %s: %w", tool, err)
		}
		// pg_restore --list stops reading after the table of contents;
		// the rest is still read and checked.
		_, err = io.Copy(&toolStdin{w: stdin}, d)
		stdin.Close()
		if err == nil {
			err = d.finish()
		}
		werr := cmd.Wait()
		if err != nil {
			return c, err
		}
		if werr != nil {
			return c, integrityf(ref, "its checksums match but pg_restore --list cannot read the dump: %v", toolError("pg_restore", werr, stderr))
		}
		c.Entries, c.TableData = toc.flush()
		return c, nil

	case m.Source.Kind == KindPostgres && m.Source.DumpFormat == FormatDirectory:
		c := ContentCheck{Format: "pg_dump directory"}
		tool, err := pgToolAtLeast(binDir, m.Source.ServerVersionNum, "pg_restore")
		if err != nil {
			return c, err
		}
		tmp, err := os.MkdirTemp("", "repairxctl-toc-*")
		if err != nil {
			return c, err
		}
		defer os.RemoveAll(tmp)
		root, err := os.OpenRoot(tmp)
		if err != nil {
			return c, err
		}
		err = extractChecked(ctx, d, root, extractOptions{only: func(name string) bool { return name == "toc.dat" || name == "." }})
		root.Close()
		if err != nil {
			return c, err
		}
		if _, err := os.Stat(filepath.Join(tmp, "toc.dat")); err != nil {
			return c, integrityf(ref, "the directory-format dump has no toc.dat")
		}
		toc := &tocCounter{}
		stderr := newTailBuffer()
		cmd := exec.CommandContext(ctx, tool, "--list", "--format=directory", tmp)
		cmd.Stdout, cmd.Stderr = toc, stderr
		if err := cmd.Run(); err != nil {
			return c, integrityf(ref, "its checksums match but pg_restore --list cannot read the dump: %v", toolError("pg_restore", err, stderr))
		}
		c.Entries, c.TableData = toc.flush()
		return c, nil

	case m.Source.Kind == KindEmbedded:
		c := ContentCheck{Format: "sqlite"}
		head := make([]byte, len(sqliteMagic))
		if _, err := io.ReadFull(d, head); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return c, integrityf(ref, "the plaintext is too short to be a SQLite database")
			}
			return c, err
		}
		if string(head) != sqliteMagic {
			return c, integrityf(ref, "the plaintext is not a SQLite database")
		}
		return c, d.finish()

	default:
		c := ContentCheck{Format: "tar"}
		tr := tar.NewReader(d)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if errors.Is(err, ErrIntegrity) || d.src.err != nil || ctx.Err() != nil {
					return c, err
				}
				if ferr := d.finish(); ferr != nil {
					return c, ferr
				}
				return c, integrityf(ref, "its checksums match but the tar is invalid: %v", err)
			}
			if _, err := checkEntry(hdr); err != nil {
				return c, integrityf(ref, "its checksums match but restore would refuse it: %s", strings.TrimPrefix(err.Error(), ErrIntegrity.Error()+": "))
			}
			c.Entries++
		}
		return c, d.finish()
	}
}

// tocCounter counts the entries of pg_restore --list output as it streams:
// lines that are not comments, and those restoring table data.
type tocCounter struct {
	partial           []byte
	entries, tableDat int
}

func (t *tocCounter) Write(p []byte) (int, error) {
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.line(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

func (t *tocCounter) line(l string) {
	l = strings.TrimSpace(l)
	if l == "" || strings.HasPrefix(l, ";") {
		return
	}
	t.entries++
	if strings.Contains(l, " TABLE DATA ") {
		t.tableDat++
	}
}

func (t *tocCounter) flush() (entries, tableData int) {
	if len(t.partial) > 0 {
		t.line(string(t.partial))
		t.partial = nil
	}
	return t.entries, t.tableDat
}

var _ io.Writer = (*tocCounter)(nil)

// compareRestored reads every table of the restored database and compares
// it with the manifest's summary.
func compareRestored(ctx context.Context, m *Manifest, rawURL string) (*RestoreTestReport, error) {
	u, err := parsePGURL(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, u)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	got, err := tableSummaries(ctx, conn)
	if err != nil {
		return nil, err
	}
	report := &RestoreTestReport{Database: u.redacted, Compared: len(m.Source.Tables) > 0, Tables: []TableCheck{}}
	if !report.Compared {
		for _, t := range got {
			report.Tables = append(report.Tables, TableCheck{Schema: t.Schema, Name: t.Name, Rows: t.Rows, Checksum: t.Checksum})
		}
		return report, nil
	}
	restored := make(map[[2]string]TableSummary, len(got))
	for _, t := range got {
		restored[[2]string{t.Schema, t.Name}] = t
	}
	for _, want := range m.Source.Tables {
		tc := TableCheck{Schema: want.Schema, Name: want.Name, ExpectedRows: want.Rows, ExpectedChecksum: want.Checksum}
		have, ok := restored[[2]string{want.Schema, want.Name}]
		switch {
		case !ok:
			tc.Problem = "missing from the restored database"
		case have.Rows != want.Rows:
			tc.Rows, tc.Checksum = have.Rows, have.Checksum
			tc.Problem = fmt.Sprintf("%d rows, the manifest says %d", have.Rows, want.Rows)
		case have.Checksum != want.Checksum:
			tc.Rows, tc.Checksum = have.Rows, have.Checksum
			tc.Problem = "the rows differ (checksum mismatch)"
		default:
			tc.Rows, tc.Checksum = have.Rows, have.Checksum
		}
		if tc.Problem != "" {
			report.Mismatches++
		}
		report.Tables = append(report.Tables, tc)
	}
	return report, nil
}
