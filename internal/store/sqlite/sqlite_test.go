package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
	"github.com/repairx/repairxctl/internal/store/sqlite"
	"github.com/repairx/repairxctl/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openMigrated(t, filepath.Join(t.TempDir(), sqlite.DefaultFileName))
	})
}

// open opens the store at path and closes it when the test ends.
func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openMigrated(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s := open(t, path)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// rawDB opens the file with plain database/sql, as another tool would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	// Escaped by hand, not as the store does it, so that the tests check
	// the store's escaping.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+esc+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "store")
	path := filepath.Join(dir, sqlite.DefaultFileName)
	s := openMigrated(t, path)
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	// Write something, so that the -wal and -shm files exist.
	if _, err := s.CreateOrganisation(t.Context(), store.Organisation{Name: "Acme", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("directory %s has mode %04o, want 0700", d, got)
		}
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%v (is the store in WAL mode?)", err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(f), got)
		}
	}
}

// TestExistingDirectoryKeepsItsMode: Open creates missing directories
// 0700 but does not chmod one that exists.
func TestExistingDirectoryKeepsItsMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	open(t, filepath.Join(dir, sqlite.DefaultFileName))
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o750 {
		t.Errorf("existing directory mode changed to %04o", got)
	}
}

// TestPathWithURICharacters: the DSN is a file: URI, so characters that mean
// something in a URI must reach the file system unchanged.
func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data ?x=1&y#frag %41")
	path := filepath.Join(dir, "store.db")
	s := openMigrated(t, path)
	if _, err := s.CreateOrganisation(t.Context(), store.Organisation{Name: "Acme", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "store.db") {
		t.Fatalf("files in %q: %q, want store.db", dir, names)
	}
	var n int
	if err := rawDB(t, path).QueryRow("SELECT count(*) FROM organisations").Scan(&n); err != nil || n != 1 {
		t.Errorf("the file at the path holds %d organisations (%v), want 1", n, err)
	}
	// Nothing was created next to the directory under a mangled name.
	siblings, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(siblings) != 1 {
		t.Errorf("entries beside the data directory: %v, want only it", siblings)
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(base, "not-a-database")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not SQLite. ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	roDir := filepath.Join(base, "read-only")
	if err := os.Mkdir(roDir, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		skipRoot bool
	}{
		{"parent is a file", filepath.Join(file, "store.db"), false},
		{"path is a directory", base, false},
		{"not a database", garbage, false},
		{"directory not writable", filepath.Join(roDir, "store.db"), true},
		{"empty path", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("root writes anywhere")
			}
			s, err := sqlite.Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, "store") || (tt.path != "" && !strings.Contains(msg, tt.path)) {
				t.Errorf("Open(%q) error %q: want it to name the store and the path", tt.path, msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(roDir, "store.db")); !errors.Is(err, os.ErrNotExist) && os.Geteuid() != 0 {
		t.Errorf("a refused Open left a file behind: %v", err)
	}
}

// TestTwoStoresOnOneFile is a second process (repairxctl user beside a
// running serve): two Stores on one file see each other's writes, and the
// atomic operations stay atomic across them.
func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	a := openMigrated(t, path)
	b := openMigrated(t, path)

	org, err := a.CreateOrganisation(ctx, store.Organisation{Name: "Acme", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	u, err := b.CreateUser(ctx, store.User{OrgID: org.ID, Email: "Tech@Example.com", PasswordHash: "h", Role: store.RoleTechnician, CreatedAt: t0})
	if err != nil {
		t.Fatalf("CreateUser through the second store: %v", err)
	}
	got, err := a.UserByEmail(ctx, "tech@example.com")
	if err != nil || got.ID != u.ID {
		t.Fatalf("the first store reads the second's user: %+v, %v", got, err)
	}
	if err := a.SetDisabled(ctx, u.ID, true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.UserByID(ctx, u.ID); err != nil || !got.Disabled {
		t.Fatalf("the second store sees the user disabled: %+v, %v", got, err)
	}
	if err := a.SetDisabled(ctx, u.ID, false, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	// One refresh token rotated through both stores at once.
	hash := store.HashToken("presented")
	if _, err := a.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: hash, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	stores := []*sqlite.Store{a, b}
	const n = 16
	errs := make([]error, n)
	race(n, func(i int) {
		next := store.RefreshToken{TokenHash: store.HashToken(fmt.Sprint("next-", i)), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		_, errs[i] = stores[i%2].RotateRefreshToken(ctx, hash, next, t0.Add(time.Minute))
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrTokenReuse):
			t.Errorf("rotation %d: %v, want success or %v", i, err, store.ErrTokenReuse)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d rotations across two stores succeeded, want 1", wins, n)
	}

	// One organisation ensured through both at once.
	ids := make([]string, n)
	race(n, func(i int) {
		o, err := stores[i%2].EnsureOrganisation(ctx, "Racing", t0)
		ids[i], errs[i] = o.ID, err
	})
	for i, err := range errs {
		if err != nil || ids[i] != ids[0] {
			t.Errorf("EnsureOrganisation %d through two stores: id %q, %v; want %q", i, ids[i], err, ids[0])
		}
	}

	// Failures counted through both: none lost.
	p := store.LockoutPolicy{Threshold: 1000, BaseLock: time.Minute}
	race(n, func(i int) { _, errs[i] = stores[i%2].RecordFailure(ctx, u.ID, t0, p) })
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if l, err := b.Lockout(ctx, u.ID); err != nil || l.FailedCount != n {
		t.Errorf("FailedCount after %d failures through two stores = %d, %v", n, l.FailedCount, err)
	}

	// A backup code used through both: once.
	if err := a.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0); err != nil {
		t.Fatal(err)
	}
	code := store.HashToken("backup")
	if err := b.EnableTOTP(ctx, u.ID, [][]byte{code}, t0); err != nil {
		t.Fatal(err)
	}
	used := make([]bool, n)
	race(n, func(i int) { used[i], errs[i] = stores[i%2].UseBackupCode(ctx, u.ID, code) })
	if c := len(slices.DeleteFunc(used, func(b bool) bool { return !b })); c != 1 {
		t.Errorf("one backup code was used %d times through two stores, want 1 (errors %v)", c, errs)
	}

	// Closing one leaves the other working.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping of the second store after the first closed: %v", err)
	}
	if _, err := b.CountUsers(ctx); err != nil {
		t.Errorf("CountUsers of the second store after the first closed: %v", err)
	}
}

// TestAnotherProcessHoldsTheWriteLock: while another connection holds the
// write lock, hot-path reads go on (WAL) and writes wait for the lock
// (busy_timeout) rather than fail.
func TestAnotherProcessHoldsTheWriteLock(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	s := openMigrated(t, path)
	org, err := s.CreateOrganisation(ctx, store.Organisation{Name: "Acme", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, store.User{OrgID: org.ID, Email: "a@example.com", PasswordHash: "h", Role: store.RoleOwner, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}

	conn, err := rawDB(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE users SET role = 'customer'"); err != nil {
		t.Fatal(err)
	}

	// Reads see the last commit, within a deadline well below the
	// busy timeout.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	got, err := s.UserByID(rctx, u.ID)
	if err != nil || got.Role != store.RoleOwner {
		t.Errorf("UserByID while another process writes: %+v, %v; want the committed owner at once", got, err)
	}

	// A write started while the lock is held cannot finish before the
	// other side commits; without a busy timeout it would fail at once
	// with SQLITE_BUSY instead of waiting the 200ms.
	release := time.AfterFunc(200*time.Millisecond, func() { _, _ = conn.ExecContext(context.Background(), "COMMIT") })
	defer release.Stop()
	if err := s.SetDisabled(ctx, u.ID, true, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetDisabled while another process held the write lock: %v", err)
	}
	got, err = s.UserByID(ctx, u.ID)
	if err != nil || !got.Disabled || got.Role != store.RoleCustomer {
		t.Errorf("after both writes: %+v, %v; want disabled and the other process's role", got, err)
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.DefaultFileName))
	states, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(want) || len(want) == 0 {
		t.Fatalf("MigrationStatus of a new file = %+v, want the %d embedded migrations pending", states, len(want))
	}
	for _, st := range states {
		if st.Applied {
			t.Errorf("migration %d applied by Open", st.Version)
		}
	}
	if _, err := s.CountUsers(t.Context()); err == nil {
		t.Error("CountUsers works on an unmigrated store; want an error (no such table)")
	}
}

func TestMigrateConcurrentStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	const n = 4
	stores := make([]*sqlite.Store, n)
	for i := range stores {
		stores[i] = open(t, path)
	}
	applied := make([][]migrate.Migration, n)
	errs := make([]error, n)
	race(n, func(i int) { applied[i], errs[i] = stores[i].Migrate(t.Context()) })

	embedded, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d: %v", i, err)
		}
		for _, m := range applied[i] {
			seen[m.Version]++
		}
	}
	for _, m := range embedded {
		if seen[m.Version] != 1 {
			t.Errorf("migration %d was applied %d times by %d concurrent stores, want once", m.Version, seen[m.Version], n)
		}
	}
	if len(seen) != len(embedded) {
		t.Errorf("applied versions %v, want the %d embedded ones", seen, len(embedded))
	}
	var rows int
	if err := rawDB(t, path).QueryRow("SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(embedded) {
		t.Errorf("schema_migrations holds %d rows (%v), want %d", rows, err, len(embedded))
	}
}

// TestMigrateRefusesOtherBinaries: a recorded checksum that differs from the
// embedded file, or a version this binary does not know, stops Migrate, and
// MigrationStatus says which.
func TestMigrateRefusesOtherBinaries(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	s := openMigrated(t, path)
	db := rawDB(t, path)

	if _, err := db.Exec("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Migrate(ctx)
	if !errors.Is(err, migrate.ErrModified) {
		t.Fatalf("Migrate with an edited checksum: %v, want %v", err, migrate.ErrModified)
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !states[0].Modified || states[0].Version != 1 {
		t.Errorf("MigrationStatus = %+v, want migration 1 modified", states)
	}

	if _, err := db.Exec("UPDATE schema_migrations SET checksum = ? WHERE version = 1", mustMigrations(t)[0].Checksum); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', 0)"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Migrate(ctx)
	if !errors.Is(err, migrate.ErrUnknownMigration) {
		t.Fatalf("Migrate with an unknown migration: %v, want %v", err, migrate.ErrUnknownMigration)
	}
	states, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := states[len(states)-1]
	if last.Version != 9999 || !last.Unknown || !last.Applied || last.Name != "from_the_future" {
		t.Errorf("MigrationStatus last = %+v, want 9999 unknown", last)
	}
}

func mustMigrations(t *testing.T) []migrate.Migration {
	t.Helper()
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestEmbeddedMigrations: the files load, start at 1 and have no gaps.
func TestEmbeddedMigrations(t *testing.T) {
	for i, m := range mustMigrations(t) {
		if m.Version != i+1 {
			t.Errorf("migration %d_%s: want version %d (no gaps)", m.Version, m.Name, i+1)
		}
	}
}

func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
