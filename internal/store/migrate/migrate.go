// Package migrate applies embedded SQL schema migrations and reports their
// state, for any database/sql database: the dialect supplies the few
// statements that differ (the bookkeeping table, placeholders, the lock).
//
// Migrations are files NNNN_name.sql (version NNNN, any number of digits),
// applied in version order, each in its own transaction together with its
// row in schema_migrations (version, name, checksum, applied_at). A migration
// is never edited once released: its SHA-256 is recorded, and a database
// whose recorded checksum differs from the binary's file is refused, as is a
// database holding a version the binary does not know (it was migrated by a
// newer repairxctl).
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrUnknownMigration: the database holds a migration this binary does
	// not know; upgrade repairxctl.
	ErrUnknownMigration = errors.New("unknown migration applied")
	// ErrModified: an applied migration's recorded checksum differs from the
	// binary's file.
	ErrModified = errors.New("applied migration was modified")
)

// Migration is one schema change.
type Migration struct {
	Version  int
	Name     string // from the file name, without version and extension
	SQL      string `json:"-"`
	Checksum string // hex SHA-256 of SQL
}

// State is a migration's state in one database.
type State struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero unless Applied
	// Modified: applied with a checksum other than the binary's file.
	Modified bool
	// Unknown: applied, but not known to this binary.
	Unknown bool
}

// Dialect holds what differs between databases.
type Dialect struct {
	Name string
	// CreateTable creates schema_migrations if it does not exist, with
	// columns version (integer, primary key), name (text), checksum (text)
	// and applied_at (integer, Unix microseconds).
	CreateTable string
	// TableExists is a query returning one row whose one column counts the
	// tables named schema_migrations visible to the connection.
	TableExists string
	// Placeholder returns the n-th (1-based) parameter placeholder.
	Placeholder func(n int) string
	// Lock, when not empty, runs first in every migration transaction and
	// must hold a lock that serialises migrators until the transaction ends
	// (PostgreSQL: SELECT pg_advisory_xact_lock(<constant>)). Empty when
	// beginning the transaction already takes the database's write lock
	// (SQLite's BEGIN IMMEDIATE).
	Lock string
}

// SQLite is the dialect of modernc.org/sqlite. The database handle must
// begin transactions with BEGIN IMMEDIATE (DSN _txlock=immediate), so that
// concurrent migrators serialise on the write lock.
var SQLite = Dialect{
	Name: "sqlite",
	CreateTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	checksum   TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`,
	TableExists: `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`,
	Placeholder: func(int) string { return "?" },
}

var fileName = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)

// Load reads the migrations from the *.sql files in dir of fsys, sorted by
// version. A .sql file with another name, a duplicate version or version 0
// is an error, so that a misnamed file is not silently skipped.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		// Any case of .sql is a migration, so that 0002_x.SQL is refused
		// below rather than skipped.
		if e.IsDir() || !strings.EqualFold(path.Ext(e.Name()), ".sql") {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql (lower-case name)", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: version must be a positive number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading migration: %w", err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Runner applies Migrations to DB.
type Runner struct {
	DB         *sql.DB
	Dialect    Dialect
	Migrations []Migration // sorted by version, as Load returns them
	// Now stamps applied_at; nil means time.Now.
	Now func() time.Time
}

type applied struct {
	version   int
	name      string
	checksum  string
	appliedAt int64
}

// Up applies the pending migrations, each in its own transaction, and
// returns those it applied. It re-reads the applied set under the lock before
// each one, so concurrent runners (other processes too) apply each migration
// once; the one that finds nothing left returns an empty list.
func (r Runner) Up(ctx context.Context) ([]Migration, error) {
	if _, err := r.DB.ExecContext(ctx, r.Dialect.CreateTable); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var done []Migration
	for {
		m, err := r.applyNext(ctx)
		if err != nil {
			return done, err
		}
		if m == nil {
			return done, nil
		}
		done = append(done, *m)
	}
}

// applyNext applies the first pending migration in one transaction and
// returns it, or nil when none is pending.
func (r Runner) applyNext(ctx context.Context) (_ *Migration, err error) {
	tx, err := r.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if r.Dialect.Lock != "" {
		if _, err := tx.ExecContext(ctx, r.Dialect.Lock); err != nil {
			return nil, fmt.Errorf("taking the migration lock: %w", err)
		}
	}
	rows, err := r.appliedRows(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := r.check(rows); err != nil {
		return nil, err
	}
	var next *Migration
	for i := range r.Migrations {
		if _, ok := rows[r.Migrations[i].Version]; !ok {
			next = &r.Migrations[i]
			break
		}
	}
	if next == nil {
		return nil, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, next.SQL); err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", next.Version, next.Name, err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	p := r.Dialect.Placeholder
	insert := fmt.Sprintf("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, %s)",
		p(1), p(2), p(3), p(4))
	if _, err := tx.ExecContext(ctx, insert, next.Version, next.Name, next.Checksum, now().UnixMicro()); err != nil {
		return nil, fmt.Errorf("recording migration %04d_%s: %w", next.Version, next.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing migration %04d_%s: %w", next.Version, next.Name, err)
	}
	return next, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (r Runner) appliedRows(ctx context.Context, q querier) (map[int]applied, error) {
	rows, err := q.QueryContext(ctx, "SELECT version, name, checksum, applied_at FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	m := map[int]applied{}
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name, &a.checksum, &a.appliedAt); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		m[a.version] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return m, nil
}

// check refuses a database migrated by another binary.
func (r Runner) check(rows map[int]applied) error {
	known := map[int]Migration{}
	for _, m := range r.Migrations {
		known[m.Version] = m
	}
	versions := make([]int, 0, len(rows))
	for v := range rows {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		a := rows[v]
		m, ok := known[v]
		if !ok {
			return fmt.Errorf("%w: the database has migration %04d_%s, which this repairxctl does not know: "+
				"it was migrated by a newer version; upgrade repairxctl", ErrUnknownMigration, v, a.name)
		}
		if m.Checksum != a.checksum {
			return fmt.Errorf("%w: migration %04d_%s was applied with checksum %.12s, this repairxctl has %.12s: "+
				"migrations must not change once released", ErrModified, v, m.Name, a.checksum, m.Checksum)
		}
	}
	return nil
}

// Status lists the known and the applied migrations by version, without
// writing: on a database that was never migrated all are pending.
func (r Runner) Status(ctx context.Context) ([]State, error) {
	var n int
	if err := r.DB.QueryRowContext(ctx, r.Dialect.TableExists).Scan(&n); err != nil {
		return nil, fmt.Errorf("looking for schema_migrations: %w", err)
	}
	rows := map[int]applied{}
	if n > 0 {
		var err error
		if rows, err = r.appliedRows(ctx, r.DB); err != nil {
			return nil, err
		}
	}
	var states []State
	for _, m := range r.Migrations {
		s := State{Version: m.Version, Name: m.Name}
		if a, ok := rows[m.Version]; ok {
			s.Applied = true
			s.AppliedAt = time.UnixMicro(a.appliedAt).UTC()
			s.Modified = a.checksum != m.Checksum
			delete(rows, m.Version)
		}
		states = append(states, s)
	}
	for _, a := range rows {
		states = append(states, State{
			Version: a.version, Name: a.name, Applied: true, Unknown: true,
			AppliedAt: time.UnixMicro(a.appliedAt).UTC(),
		})
	}
	slices.SortFunc(states, func(a, b State) int { return a.Version - b.Version })
	return states, nil
}
