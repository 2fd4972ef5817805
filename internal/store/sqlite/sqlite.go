// Package sqlite is the embedded store: store.Store on one SQLite file in the
// data directory, through modernc.org/sqlite (pure Go, so the binary stays
// static and CGO-free).
//
// # Connections and locking
//
// SQLite allows one writer at a time, so the Store keeps two pools on the
// same file: a writer with exactly one connection, whose transactions begin
// with BEGIN IMMEDIATE (they take the write lock at once, so a transaction
// never fails half-way with SQLITE_BUSY on a lock upgrade), and a pool of
// read-only connections (PRAGMA query_only) that in WAL mode read
// concurrently with the writer and each other. Every atomic operation
// (rotation, step acceptance, backup codes, lockout counting) is one
// statement or one immediate transaction on the writer: writers in this
// process queue for its connection, and other processes (`repairxctl user`
// beside a running serve) wait on the file lock for up to busy_timeout.
// Reads on the hot path (UserByID) never wait for the writer.
//
// The file is created with mode 0600 (SQLite gives its -wal and -shm files
// the same mode), and its directory with 0700 when missing. Foreign keys are
// enforced; synchronous=FULL, because a lost "token used" or "step accepted"
// after a power failure would reopen a replay.
//
// Open does not migrate: call Migrate (serve, the user commands) or
// MigrationStatus (migrate status) after it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
)

// DefaultFileName is the store's file name in the data directory.
const DefaultFileName = "repairx.db"

// busyTimeout is how long a write waits for another process's write lock.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations, sorted by version.
func Migrations() ([]migrate.Migration, error) {
	return migrate.Load(migrationFiles, "migrations")
}

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection: the single writer
	r    *sql.DB // read-only connections
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Migrator = (*Store)(nil)
)

// Open opens the store in the file at path, creating the file (0600) and its
// directory (0700) when missing, and switches it to WAL mode.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("opening the store: no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening the store %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, err
	}

	s := &Store{path: abs}
	s.w, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("opening the store %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening the store %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.w.Close()
		return nil, fmt.Errorf("opening the store %s: journal mode is %q, WAL is needed (is the file on a network file system?)", abs, mode)
	}

	s.r, err = sql.Open("sqlite", dsn(abs, "_pragma=query_only(1)"))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening the store %s: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening the store %s: %w", abs, err)
	}
	return s, nil
}

// createFile creates the database file with mode 0600 before SQLite opens
// it (SQLite would create it 0644 less the umask), and its directory 0700.
// Its errors name the database path, whichever step failed.
func createFile(path string) error {
	fail := func(err error) error {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("opening the store %s: %w (the data directory must be writable by this user)", path, err)
		}
		return fmt.Errorf("opening the store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fail(fmt.Errorf("creating its directory: %w", err))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	return nil
}

// dsn builds a modernc.org/sqlite data source name: a file: URI (so the
// path is escaped, not parsed for '?') with the connection settings.
func dsn(path string, extra string) string {
	u := url.URL{Path: path}
	q := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(FULL)",
		extra,
	}
	return "file:" + u.EscapedPath() + "?" + strings.Join(q, "&")
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Ping checks that both pools reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store %s: %w", s.path, err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store %s: %w", s.path, err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Migrate applies the pending embedded migrations (store.Migrator).
func (s *Store) Migrate(ctx context.Context) ([]migrate.Migration, error) {
	r, err := s.runner()
	if err != nil {
		return nil, err
	}
	return r.Up(ctx)
}

// MigrationStatus reports the embedded and applied migrations
// (store.Migrator).
func (s *Store) MigrationStatus(ctx context.Context) ([]migrate.State, error) {
	r, err := s.runner()
	if err != nil {
		return nil, err
	}
	return r.Status(ctx)
}

func (s *Store) runner() (migrate.Runner, error) {
	ms, err := Migrations()
	if err != nil {
		return migrate.Runner{}, err
	}
	return migrate.Runner{DB: s.w, Dialect: migrate.SQLite, Migrations: ms}, nil
}

// inTx runs fn in an immediate transaction on the writer and commits when
// fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: beginning a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: committing: %w", err)
	}
	return nil
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

// The schema keeps times as Unix microseconds.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// ceilMicros is t in Unix microseconds rounded up: a stored (truncated)
// time is >= t, or < t, exactly when it is >= or < ceilMicros(t). Bounds of
// a query use it; micros would floor them and take in, or leave out, the
// stored times of their own microsecond.
func ceilMicros(t time.Time) int64 {
	if t.Nanosecond()%1000 != 0 {
		return t.UnixMicro() + 1
	}
	return t.UnixMicro()
}

// trunc is t as it reads back from the store.
func trunc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return fromMicros(micros(t))
}

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func nullMicrosZero(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func timeOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type scanner interface{ Scan(dest ...any) error }

// rowsAffected returns a result's count of changed rows.
func rowsAffected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
