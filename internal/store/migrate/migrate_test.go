package migrate_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite"

	"github.com/repairx/repairxctl/internal/store/migrate"
)

// applyTime is the runners' clock.
var applyTime = time.Date(2031, 2, 3, 4, 5, 6, 789_123_456, time.UTC)

// openDB opens a new SQLite file the way the store does: BEGIN IMMEDIATE,
// so that migrators serialise on the write lock.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func newDB(t *testing.T) *sql.DB {
	return openDB(t, filepath.Join(t.TempDir(), "m.db"))
}

func load(t *testing.T, files map[string]string) []migrate.Migration {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, sql := range files {
		fsys["m/"+name] = &fstest.MapFile{Data: []byte(sql)}
	}
	ms, err := migrate.Load(fsys, "m")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ms
}

func runner(db *sql.DB, ms []migrate.Migration) migrate.Runner {
	return migrate.Runner{DB: db, Dialect: migrate.SQLite, Migrations: ms, Now: func() time.Time { return applyTime }}
}

func versions(ms []migrate.Migration) []int {
	out := []int{}
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

// status returns each version's state as a short word, for comparisons.
func status(t *testing.T, r migrate.Runner) map[int]string {
	t.Helper()
	states, err := r.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	out := map[int]string{}
	for i, s := range states {
		if i > 0 && s.Version <= states[i-1].Version {
			t.Errorf("Status not sorted by version: %d after %d", s.Version, states[i-1].Version)
		}
		w := "pending"
		switch {
		case s.Unknown:
			w = "unknown"
		case s.Modified:
			w = "modified"
		case s.Applied:
			w = "applied"
		}
		if s.Applied != !s.AppliedAt.IsZero() {
			t.Errorf("migration %d: Applied %t but AppliedAt %v", s.Version, s.Applied, s.AppliedAt)
		}
		out[s.Version] = w
	}
	return out
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

var files = map[string]string{
	"0001_init.sql":      "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n",
	"0002_add_b.sql":     "CREATE TABLE b (y TEXT);\nALTER TABLE a ADD COLUMN z TEXT;\n",
	"10_after_nine.sql":  "CREATE TABLE c (w BLOB);",
	"README.md":          "not a migration",
	"notes.txt":          "nor this",
	"old/0003_moved.sql": "a subdirectory is not read",
}

func TestLoad(t *testing.T) {
	ms := load(t, files)
	if got, want := versions(ms), []int{1, 2, 10}; !slices.Equal(got, want) {
		t.Fatalf("versions = %v, want %v (numeric order, .sql files only)", got, want)
	}
	names := []string{"init", "add_b", "after_nine"}
	sources := []string{files["0001_init.sql"], files["0002_add_b.sql"], files["10_after_nine.sql"]}
	for i, m := range ms {
		sum := sha256.Sum256([]byte(sources[i]))
		if m.Name != names[i] || m.SQL != sources[i] || m.Checksum != hex.EncodeToString(sum[:]) {
			t.Errorf("migration %d = %+v, want name %q, its file's text and SHA-256", m.Version, m, names[i])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string // in the message
	}{
		{"upper-case name", []string{"0001_init.sql", "0002_AddUsers.sql"}, "0002_AddUsers.sql"},
		{"upper-case extension", []string{"0001_init.sql", "0002_users.SQL"}, "0002_users.SQL"},
		{"no version", []string{"init.sql"}, "init.sql"},
		{"dash", []string{"0001-init.sql"}, "0001-init.sql"},
		{"no name", []string{"0001_.sql"}, "0001_.sql"},
		{"version 0", []string{"0000_zero.sql"}, "positive"},
		{"version out of range", []string{"99999999999999999999_big.sql"}, "99999999999999999999_big.sql"},
		{"duplicate version", []string{"0001_a.sql", "1_b.sql"}, "share version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			ms, err := migrate.Load(fsys, "m")
			if err == nil {
				t.Fatalf("Load = %+v, want an error", ms)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error %q, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := migrate.Load(fstest.MapFS{}, "missing"); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

func TestUp(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	r := runner(db, load(t, files))

	done, err := r.Up(ctx)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if got := versions(done); !slices.Equal(got, []int{1, 2, 10}) {
		t.Errorf("Up applied %v, want [1 2 10] in order", got)
	}
	rows, err := db.Query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var v int
		var name, sum string
		var at int64
		if err := rows.Scan(&v, &name, &sum, &at); err != nil {
			t.Fatal(err)
		}
		m := r.Migrations[i]
		if v != m.Version || name != m.Name || sum != m.Checksum || at != applyTime.UnixMicro() {
			t.Errorf("schema_migrations row %d_%s %.12s %d, want %d_%s %.12s %d", v, name, sum, at, m.Version, m.Name, m.Checksum, applyTime.UnixMicro())
		}
		i++
	}
	if err := rows.Err(); err != nil || i != 3 {
		t.Errorf("schema_migrations has %d rows (%v), want 3", i, err)
	}
	var x int
	var z sql.NullString
	if err := db.QueryRow("SELECT x, z FROM a").Scan(&x, &z); err != nil || x != 1 {
		t.Errorf("the migrations' effects: x=%d z=%v err=%v", x, z, err)
	}

	again, err := r.Up(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second Up = %v, %v; want nothing applied", versions(again), err)
	}
	states, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if !s.Applied || !s.AppliedAt.Equal(applyTime.Truncate(time.Microsecond)) || s.AppliedAt.Location() != time.UTC {
			t.Errorf("state %+v: want applied at %v UTC", s, applyTime.Truncate(time.Microsecond))
		}
	}
}

func TestUpAppliesOnlyPending(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	all := load(t, files)
	if _, err := runner(db, all[:1]).Up(ctx); err != nil {
		t.Fatal(err)
	}
	r := runner(db, all)
	if got, want := status(t, r), map[int]string{1: "applied", 2: "pending", 10: "pending"}; !maps.Equal(got, want) {
		t.Errorf("Status = %v, want %v", got, want)
	}
	done, err := r.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(done); !slices.Equal(got, []int{2, 10}) {
		t.Errorf("Up applied %v, want [2 10]", got)
	}
}

func TestUpStopsAtAFailedMigration(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	r := runner(db, load(t, map[string]string{
		"0001_init.sql":   "CREATE TABLE a (x INTEGER);",
		"0002_broken.sql": "CREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
		"0003_later.sql":  "CREATE TABLE later (x INTEGER);",
	}))
	done, err := r.Up(ctx)
	if err == nil {
		t.Fatal("Up with a broken migration succeeded")
	}
	if !strings.Contains(err.Error(), "0002_broken") {
		t.Errorf("Up error %q, want it to name 0002_broken", err)
	}
	if got := versions(done); !slices.Equal(got, []int{1}) {
		t.Errorf("Up returned %v as applied, want [1]", got)
	}
	if tableExists(t, db, "half") || tableExists(t, db, "later") {
		t.Error("the broken migration's first statement, or a later migration, was kept")
	}
	if got, want := status(t, r), map[int]string{1: "applied", 2: "pending", 3: "pending"}; !maps.Equal(got, want) {
		t.Errorf("Status = %v, want %v", got, want)
	}
}

func TestUpRefusesUnknownMigration(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	all := load(t, files)
	if _, err := runner(db, all).Up(ctx); err != nil {
		t.Fatal(err)
	}
	// An older binary knows 1 and 2 only.
	old := runner(db, all[:2])
	_, err := old.Up(ctx)
	if !errors.Is(err, migrate.ErrUnknownMigration) {
		t.Fatalf("Up: %v, want %v", err, migrate.ErrUnknownMigration)
	}
	if !strings.Contains(err.Error(), "0010_after_nine") {
		t.Errorf("Up error %q, want it to name the unknown migration", err)
	}
	if got, want := status(t, old), map[int]string{1: "applied", 2: "applied", 10: "unknown"}; !maps.Equal(got, want) {
		t.Errorf("Status = %v, want %v", got, want)
	}
}

func TestUpRefusesModifiedMigration(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	all := load(t, files)
	if _, err := runner(db, all[:2]).Up(ctx); err != nil {
		t.Fatal(err)
	}
	edited := load(t, map[string]string{
		"0001_init.sql":     files["0001_init.sql"],
		"0002_add_b.sql":    files["0002_add_b.sql"] + "-- a comment added later\n",
		"10_after_nine.sql": files["10_after_nine.sql"],
	})
	r := runner(db, edited)
	done, err := r.Up(ctx)
	if !errors.Is(err, migrate.ErrModified) {
		t.Fatalf("Up: %v, want %v", err, migrate.ErrModified)
	}
	if !strings.Contains(err.Error(), "0002_add_b") || len(done) != 0 {
		t.Errorf("Up = %v, %q: want nothing applied and the error to name 0002_add_b", versions(done), err)
	}
	if tableExists(t, db, "c") {
		t.Error("a pending migration was applied past a modified one")
	}
	if got, want := status(t, r), map[int]string{1: "applied", 2: "modified", 10: "pending"}; !maps.Equal(got, want) {
		t.Errorf("Status = %v, want %v", got, want)
	}
}

func TestStatusDoesNotWrite(t *testing.T) {
	db := newDB(t)
	r := runner(db, load(t, files))
	if got, want := status(t, r), map[int]string{1: "pending", 2: "pending", 10: "pending"}; !maps.Equal(got, want) {
		t.Errorf("Status of a new database = %v, want %v", got, want)
	}
	if tableExists(t, db, "schema_migrations") {
		t.Error("Status created schema_migrations")
	}
}

func TestLockRunsInEachTransaction(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	if _, err := db.Exec("CREATE TABLE lock_calls (n INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	r := runner(db, load(t, files))
	r.Dialect.Lock = "INSERT INTO lock_calls DEFAULT VALUES"
	if _, err := r.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM lock_calls").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 { // three migrations and the look that finds none left
		t.Errorf("the lock statement ran %d times, want 4", n)
	}

	failing := runner(newDB(t), load(t, files))
	failing.Dialect.Lock = "SELECT * FROM no_such_lock_table"
	done, err := failing.Up(ctx)
	if err == nil || !strings.Contains(err.Error(), "lock") || len(done) != 0 {
		t.Errorf("Up with a failing lock = %v, %v; want an error about the lock and nothing applied", versions(done), err)
	}
}

func TestConcurrentRunnersApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ms := load(t, files)
	const n = 4
	dbs := make([]*sql.DB, n)
	for i := range dbs {
		dbs[i] = openDB(t, path) // separate handles: separate processes
	}
	done := make([][]migrate.Migration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			done[i], errs[i] = runner(dbs[i], ms).Up(t.Context())
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("runner %d: %v", i, err)
		}
		for _, m := range done[i] {
			count[m.Version]++
		}
	}
	if want := map[int]int{1: 1, 2: 1, 10: 1}; !maps.Equal(count, want) {
		t.Errorf("applications per version = %v, want each once", count)
	}
}
