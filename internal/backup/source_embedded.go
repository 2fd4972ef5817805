package backup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// EmbeddedSource backs up the embedded SQLite store while it is in use.
//
// SQLite cannot be copied consistently by reading its file (the WAL holds
// recent commits), so Open first makes a consistent online copy with VACUUM
// INTO: a snapshot that does not block writers for long, compacted, with
// the WAL folded in. The copy is STAGED on local disk, as a hidden file
// (.<name>.backup-<random>.tmp, mode 0600) in the store's own directory:
// same file system, same permissions, about the size of the live database.
// It is checked (PRAGMA quick_check), streamed, and removed on Close, also
// when the run fails.
type EmbeddedSource struct {
	name string
	path string
}

// NewEmbeddedSource returns the source for the SQLite database file at
// path (the store's file in the data directory). name "" means "embedded".
func NewEmbeddedSource(name, path string) (*EmbeddedSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("embedded source %s: %w", path, err)
	}
	if name == "" {
		name = string(KindEmbedded)
	}
	if err := ValidateSourceName(name); err != nil {
		return nil, err
	}
	return &EmbeddedSource{name: name, path: abs}, nil
}

// Name returns the source's name.
func (s *EmbeddedSource) Name() string { return s.name }

// Kind returns KindEmbedded.
func (s *EmbeddedSource) Kind() Kind { return KindEmbedded }

// sqliteDSN is a modernc.org/sqlite data source name for path, with a busy
// timeout so a copy waits for a writer instead of failing.
func sqliteDSN(path string, extra ...string) string {
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + strings.Join(append([]string{"_pragma=busy_timeout(10000)"}, extra...), "&")
}

// Open stages a consistent copy of the database and streams it.
func (s *EmbeddedSource) Open(ctx context.Context) (Dump, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: %w", s.path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("embedded store %s: not a regular file", s.path)
	}
	staged := filepath.Join(filepath.Dir(s.path), "."+filepath.Base(s.path)+".backup-"+strings.ToLower(rand.Text()[:10])+".tmp")
	// VACUUM INTO wants a missing or empty file; creating it first sets its mode.
	f, err := os.OpenFile(staged, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: staging a copy: %w", s.path, err)
	}
	f.Close()
	info, err := s.copyTo(ctx, staged)
	if err != nil {
		os.Remove(staged)
		return nil, err
	}
	f, err = os.Open(staged)
	if err != nil {
		os.Remove(staged)
		return nil, err
	}
	return &fileDump{f: f, path: staged, info: info}, nil
}

// copyTo writes a consistent copy of the store into staged and checks it.
func (s *EmbeddedSource) copyTo(ctx context.Context, staged string) (SourceInfo, error) {
	info := SourceInfo{Name: s.name, Kind: KindEmbedded, DumpFormat: "sqlite", FileName: filepath.Base(s.path)}
	db, err := sql.Open("sqlite", sqliteDSN(s.path))
	if err != nil {
		return info, fmt.Errorf("embedded store %s: %w", s.path, err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&info.ServerVersion); err != nil {
		return info, fmt.Errorf("embedded store %s: %w", s.path, err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", staged); err != nil {
		return info, fmt.Errorf("embedded store %s: copying it (VACUUM INTO %s): %w", s.path, staged, err)
	}
	if err := quickCheck(ctx, staged); err != nil {
		return info, fmt.Errorf("embedded store %s: the copy fails its check: %w", s.path, err)
	}
	return info, nil
}

// quickCheck runs PRAGMA quick_check on the SQLite file at path.
func quickCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", sqliteDSN(path, "mode=ro"))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// fileDump streams a staged file and removes it on Close.
type fileDump struct {
	f    *os.File
	path string
	info SourceInfo
	once sync.Once
	err  error
}

func (d *fileDump) Read(p []byte) (int, error) { return d.f.Read(p) }

func (d *fileDump) Info() SourceInfo { return d.info }

func (d *fileDump) Close() error {
	d.once.Do(func() {
		d.err = errors.Join(d.f.Close(), os.Remove(d.path))
	})
	return d.err
}

var _ io.ReadCloser = (*fileDump)(nil)
