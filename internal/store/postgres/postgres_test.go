package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
	"github.com/repairx/repairxctl/internal/store/sqlite"
	"github.com/repairx/repairxctl/internal/store/storetest"
	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openMigrated(t, newDatabase(t))
	})
}

func newDatabase(t *testing.T) string {
	t.Helper()
	return testenv.Postgres(t).NewDatabase(t)
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
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

func openMigrated(t *testing.T, url string) *Store {
	t.Helper()
	s := open(t, url)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

// withURL returns url changed by edit.
func withURL(t *testing.T, raw string, edit func(u *url.URL)) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(u)
	return u.String()
}

// adminExec runs statements as the superuser on the server's postgres
// database.
func adminExec(t *testing.T, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testenv.Postgres(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range sqls {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
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

// fixture creates an organisation and a technician.
func fixture(t *testing.T, s *Store) store.User {
	t.Helper()
	org, err := s.CreateOrganisation(t.Context(), store.Organisation{Name: "Acme", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(t.Context(), store.User{OrgID: org.ID, Email: "Tech@Example.com", PasswordHash: "h", Role: store.RoleTechnician, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTwoNodes is two serve nodes on one database: each sees the other's
// writes, and the atomic operations stay atomic across them.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := newDatabase(t)
	a, b := openMigrated(t, db), openMigrated(t, db)
	nodes := []*Store{a, b}

	org, err := a.CreateOrganisation(ctx, store.Organisation{Name: "Acme", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	u, err := b.CreateUser(ctx, store.User{OrgID: org.ID, Email: "Tech@Example.com", PasswordHash: "h", Role: store.RoleTechnician, CreatedAt: t0})
	if err != nil {
		t.Fatalf("CreateUser through the second node: %v", err)
	}
	if got, err := a.UserByEmail(ctx, "tech@example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("the first node reads the second's user: %+v, %v", got, err)
	}
	if _, err := a.CreateUser(ctx, store.User{OrgID: org.ID, Email: "TECH@example.com", PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same e-mail through the other node: %v, want ErrConflict", err)
	}
	if err := a.SetDisabled(ctx, u.ID, true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.UserByID(ctx, u.ID); err != nil || !got.Disabled {
		t.Fatalf("the second node sees the user disabled: %+v, %v", got, err)
	}
	if err := b.SetDisabled(ctx, u.ID, false, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	const n = 16
	errs := make([]error, n)

	// One refresh token rotated through both nodes at once, for several
	// rounds: one winner, every loser a reuse.
	for round := range 4 {
		hash := store.HashToken(fmt.Sprint("presented-", round))
		if _, err := a.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: hash, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		race(n, func(i int) {
			next := store.RefreshToken{TokenHash: store.HashToken(fmt.Sprint("next-", round, "-", i)), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			_, errs[i] = nodes[i%2].RotateRefreshToken(ctx, hash, next, t0.Add(time.Minute))
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrTokenReuse):
				t.Errorf("round %d: rotation %d: %v, want success or %v", round, i, err, store.ErrTokenReuse)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d rotations across two nodes succeeded, want 1", round, wins, n)
		}
	}

	// One organisation ensured through both at once.
	ids := make([]string, n)
	race(n, func(i int) {
		o, err := nodes[i%2].EnsureOrganisation(ctx, "Racing", t0)
		ids[i], errs[i] = o.ID, err
	})
	for i, err := range errs {
		if err != nil || ids[i] != ids[0] {
			t.Errorf("EnsureOrganisation %d through two nodes: id %q, %v; want %q", i, ids[i], err, ids[0])
		}
	}

	// Failures counted through both: none lost; and across a threshold
	// exactly one locks.
	wide := store.LockoutPolicy{Threshold: 1000, BaseLock: time.Minute}
	race(n, func(i int) { _, errs[i] = nodes[i%2].RecordFailure(ctx, u.ID, t0, wide) })
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if l, err := b.Lockout(ctx, u.ID); err != nil || l.FailedCount != n {
		t.Errorf("FailedCount after %d failures through two nodes = %d, %v", n, l.FailedCount, err)
	}
	narrow := store.LockoutPolicy{Threshold: 3, BaseLock: time.Hour}
	when := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond).Truncate(time.Microsecond) }
	states := make([]store.Lockout, n)
	race(n, func(i int) { states[i], errs[i] = nodes[i%2].RecordFailure(ctx, "narrow", when(i), narrow) })
	lockers, counted := 0, 0
	for i, l := range states {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if l.LastFailureAt.Equal(when(i)) {
			counted++
			if l.LockoutCount == 1 {
				lockers++
			}
		}
	}
	if lockers != 1 || counted != narrow.Threshold {
		t.Errorf("%d failures through two nodes counted, %d locked; want %d and 1", counted, lockers, narrow.Threshold)
	}
	if l, err := a.Lockout(ctx, "narrow"); err != nil || l.LockoutCount != 1 || l.FailedCount != 0 {
		t.Errorf("lockout after the race through two nodes = %+v, %v; want locked once", l, err)
	}

	// TOTP: a step accepted once, a backup code used once.
	if err := a.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0); err != nil {
		t.Fatal(err)
	}
	code := store.HashToken("backup")
	if err := b.EnableTOTP(ctx, u.ID, [][]byte{code}, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || !got.TwoFactorEnabled {
		t.Errorf("the first node sees 2FA enabled by the second: %+v, %v", got, err)
	}
	accepted := make([]bool, n)
	race(n, func(i int) { accepted[i], errs[i] = nodes[i%2].AcceptStep(ctx, u.ID, 12345) })
	if c := count(accepted); c != 1 {
		t.Errorf("one TOTP step was accepted %d times through two nodes, want 1 (errors %v)", c, errs)
	}
	used := make([]bool, n)
	race(n, func(i int) { used[i], errs[i] = nodes[i%2].UseBackupCode(ctx, u.ID, code) })
	if c := count(used); c != 1 {
		t.Errorf("one backup code was used %d times through two nodes, want 1 (errors %v)", c, errs)
	}

	// A blob created through both: one value.
	vals := make([][]byte, n)
	race(n, func(i int) {
		vals[i], errs[i] = nodes[i%2].CreateBlob(ctx, "keyring", []byte(fmt.Sprint("ring-", i)), t0)
	})
	for i := range vals {
		if errs[i] != nil || string(vals[i]) != string(vals[0]) {
			t.Errorf("CreateBlob %d through two nodes = %q, %v; want %q", i, vals[i], errs[i], vals[0])
		}
	}

	// Closing one leaves the other working.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping of the second node after the first closed: %v", err)
	}
	if _, err := b.CountUsers(ctx); err != nil {
		t.Errorf("CountUsers of the second node after the first closed: %v", err)
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestRevocationMissesNoRotation races a rotation on one node against a
// revocation of the same user on another: whichever runs first, no token
// of the user may stay usable. A revocation that only locked the rows it
// found would miss the token a concurrent rotation inserts.
func TestRevocationMissesNoRotation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := newDatabase(t)
	a, b := openMigrated(t, db), openMigrated(t, db)
	u := fixture(t, a)
	revocations := map[string]func(tok store.RefreshToken, now time.Time) error{
		"RevokeRefreshFamily": func(tok store.RefreshToken, now time.Time) error {
			_, err := b.RevokeRefreshFamily(ctx, tok.FamilyID, now)
			return err
		},
		"RevokeUserRefreshTokens": func(tok store.RefreshToken, now time.Time) error {
			_, err := b.RevokeUserRefreshTokens(ctx, tok.UserID, now)
			return err
		},
		"SetDisabled": func(tok store.RefreshToken, now time.Time) error {
			if err := b.SetDisabled(ctx, tok.UserID, true, now); err != nil {
				return err
			}
			return b.SetDisabled(ctx, tok.UserID, false, now)
		},
	}
	for name, revoke := range revocations {
		for round := range 25 {
			label := fmt.Sprint(name, "-", round)
			tok, err := a.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: store.HashToken(label), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			var rotErr, revErr error
			race(2, func(i int) {
				if i == 0 {
					next := store.RefreshToken{TokenHash: store.HashToken(label + "-next"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
					_, rotErr = a.RotateRefreshToken(ctx, tok.TokenHash, next, t0.Add(time.Minute))
				} else {
					revErr = revoke(tok, t0.Add(time.Minute))
				}
			})
			if revErr != nil {
				t.Fatalf("%s: %v", label, revErr)
			}
			if rotErr != nil && !errors.Is(rotErr, store.ErrTokenRevoked) {
				t.Fatalf("%s: rotation: %v, want success or %v", label, rotErr, store.ErrTokenRevoked)
			}
			toks, err := a.ListRefreshTokens(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range toks {
				if tk.Active(t0.Add(2 * time.Minute)) {
					t.Fatalf("%s: token %s (family %s) is still active after a revocation raced a rotation (rotation error %v)",
						label, tk.ID, tk.FamilyID, rotErr)
				}
			}
		}
	}
}

// TestMigrateConcurrentStores: stores on a new database migrating at once
// apply each migration once, and none fails (CREATE TABLE IF NOT EXISTS on
// its own would race).
func TestMigrateConcurrentStores(t *testing.T) {
	t.Parallel()
	embedded, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		db := newDatabase(t)
		const n = 6
		stores := make([]*Store, n)
		for i := range stores {
			stores[i] = open(t, db)
		}
		applied := make([][]migrate.Migration, n)
		errs := make([]error, n)
		race(n, func(i int) { applied[i], errs[i] = stores[i].Migrate(t.Context()) })
		seen := map[int]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Migrate %d: %v", round, i, err)
			}
			for _, m := range applied[i] {
				seen[m.Version]++
			}
		}
		for _, m := range embedded {
			if seen[m.Version] != 1 {
				t.Errorf("round %d: migration %d was applied %d times by %d concurrent stores, want once", round, m.Version, seen[m.Version], n)
			}
		}
		var rows int
		if err := stores[0].pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(embedded) {
			t.Errorf("round %d: schema_migrations holds %d rows (%v), want %d", round, rows, err, len(embedded))
		}
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t))
	states, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(want) || len(want) == 0 {
		t.Fatalf("MigrationStatus of a new database = %+v, want the %d embedded migrations pending", states, len(want))
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

// TestMigrateRefusesOtherBinaries: an edited checksum or a version this
// binary does not know stops Migrate, and MigrationStatus says which.
func TestMigrateRefusesOtherBinaries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t))
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
	if _, err := s.Migrate(ctx); !errors.Is(err, migrate.ErrModified) {
		t.Fatalf("Migrate with an edited checksum: %v, want %v", err, migrate.ErrModified)
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !states[0].Modified || states[0].Version != 1 {
		t.Errorf("MigrationStatus = %+v, want migration 1 modified", states)
	}
	embedded, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	exec("UPDATE schema_migrations SET checksum = $1 WHERE version = 1", embedded[0].Checksum)
	exec("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', 0)")
	if _, err := s.Migrate(ctx); !errors.Is(err, migrate.ErrUnknownMigration) {
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

// TestMigrationsMirrorSQLite: both stores have the same migrations by
// version and name, so `migrate status` means the same on both and a
// schema change is never made to one only.
func TestMigrationsMirrorSQLite(t *testing.T) {
	pg, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	lite, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	name := func(ms []migrate.Migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
		return out
	}
	if !slices.Equal(name(pg), name(lite)) {
		t.Errorf("PostgreSQL migrations %q, SQLite's %q: want the same versions and names", name(pg), name(lite))
	}
	for i, m := range pg {
		if m.Version != i+1 {
			t.Errorf("migration %d_%s: want version %d (no gaps)", m.Version, m.Name, i+1)
		}
	}
}

// TestByteOrderWhateverTheDatabaseCollation runs the ordered listings on a
// database whose default collation is a natural language's (ICU en-US),
// where only the columns' COLLATE "C" keeps byte order.
func TestByteOrderWhateverTheDatabaseCollation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := testenv.Postgres(t)
	name := fmt.Sprintf("t_icu_%d", time.Now().UnixNano())
	adminExec(t, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`, name))
	t.Cleanup(func() { adminExec(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	db := withURL(t, pg.URL(), func(u *url.URL) { u.Path = "/" + name })
	s := openMigrated(t, db)

	var natural []string
	rows, err := s.pool.Query(ctx, `SELECT x FROM unnest(ARRAY['b', 'B', 'a']) x ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	natural, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || slices.Equal(natural, []string{"B", "a", "b"}) {
		t.Fatalf("the database sorts %q (%v): want a natural-language order, or this test proves nothing", natural, err)
	}

	orgNames := []string{"Zeta", "alpha", "Äpfel", "Beta", "_under"}
	for _, n := range orgNames {
		if _, err := s.CreateOrganisation(ctx, store.Organisation{Name: n, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	orgs, err := s.ListOrganisations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gotOrgs []string
	for _, o := range orgs {
		gotOrgs = append(gotOrgs, o.Name)
	}
	wantOrgs := slices.Sorted(slices.Values(orgNames))
	if !slices.Equal(gotOrgs, wantOrgs) {
		t.Errorf("ListOrganisations = %q, want byte order %q", gotOrgs, wantOrgs)
	}

	emails := []string{"zed@example.com", "a-z@example.com", "ab@example.com", "a.b@example.com", "a_b@example.com", "b@example.com", "é@example.com"}
	for _, e := range emails {
		if _, err := s.CreateUser(ctx, store.User{OrgID: orgs[0].ID, Email: e, PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Sorted(slices.Values(emails))
	var paged []string
	f := store.UserFilter{Limit: 2}
	for {
		page, err := s.ListUsers(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			paged = append(paged, u.Email)
		}
		f.AfterEmail = page[len(page)-1].Email
	}
	if !slices.Equal(paged, want) {
		t.Errorf("ListUsers paged by 2 = %q, want byte order %q", paged, want)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	db := newDatabase(t)
	const password = "s3cret-Pa55word"
	withPassword := func(user string) func(u *url.URL) {
		return func(u *url.URL) { u.User = url.UserPassword(user, password) }
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	tests := []struct {
		name  string
		url   string
		kind  error  // errors.Is, when not nil
		names string // a regular expression the message matches
	}{
		{"unknown role", withURL(t, db, withPassword("nobody")), ErrAuthentication, `^opening the PostgreSQL store postgres://nobody@127\.0\.0\.1:\d+/t_\w+: .*role "nobody" does not exist.*: check the user and password`},
		{"no such database", withURL(t, db, func(u *url.URL) { withPassword("postgres")(u); u.Path = "/no_such_db" }), nil, `^opening the PostgreSQL store postgres://postgres@127\.0\.0\.1:\d+/no_such_db: .*"no_such_db" does not exist`},
		{"nothing listens", withURL(t, db, func(u *url.URL) {
			withPassword("postgres")(u)
			u.Host = fmt.Sprintf("127.0.0.1:%d", closedPort)
		}), ErrUnavailable, fmt.Sprintf(`^opening the PostgreSQL store postgres://postgres@127\.0\.0\.1:%d/t_\w+: .*connection refused: is the server running`, closedPort)},
		{"bad port", "postgres://postgres:" + password + "@127.0.0.1:notaport/db", store.ErrInvalid, `^invalid PostgreSQL URL: it does not parse \(invalid port\); want postgres://`},
		{"bad key=value", "host=127.0.0.1 password=" + password + " port=x", store.ErrInvalid, `^invalid PostgreSQL URL: it does not parse \(invalid port\)`},
		{"bad sslmode", "postgres://postgres:" + password + "@127.0.0.1/db?sslmode=" + password, store.ErrInvalid, `^invalid PostgreSQL URL: it does not parse`},
		{"empty", "", store.ErrInvalid, `^invalid PostgreSQL URL: it is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			s, err := Open(t.Context(), tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, password) || strings.Contains(msg, "Pa55") {
				t.Errorf("the error shows the password: %q", msg)
			}
			if !regexp.MustCompile(tt.names).MatchString(msg) {
				t.Errorf("the error %q does not match %q", msg, tt.names)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("the error %q is not %v", msg, tt.kind)
			}
			for _, other := range []error{ErrAuthentication, ErrUnavailable, store.ErrInvalid} {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("the error %q is also %v", msg, other)
				}
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Open took %s to fail", d)
			}
		})
	}
}

// TestConnectionSettings: the defaults Open fills in, and the URL's own
// settings winning over them; the store's name never shows the password.
func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := withURL(t, newDatabase(t), func(u *url.URL) { u.User = url.UserPassword("postgres", "trust-ignores-it") })
	s := open(t, db)
	var app string
	if err := s.pool.QueryRow(ctx, "SHOW application_name").Scan(&app); err != nil || app != ApplicationName {
		t.Errorf("application_name = %q, %v; want %q", app, err, ApplicationName)
	}
	if got := s.pool.Config().MaxConns; got < 4 || got > maxPoolCap {
		t.Errorf("MaxConns = %d, want 4..%d", got, maxPoolCap)
	}
	if strings.Contains(s.Name(), "trust-ignores-it") || !strings.HasPrefix(s.Name(), "postgres://postgres@127.0.0.1:") || strings.Contains(s.Name(), "sslmode") {
		t.Errorf("Name() = %q, want postgres://USER@HOST:PORT/DB without password or parameters", s.Name())
	}

	custom := open(t, withURL(t, db, func(u *url.URL) {
		q := u.Query()
		q.Set("application_name", "ops-console")
		q.Set("pool_max_conns", "2")
		u.RawQuery = q.Encode()
	}))
	if err := custom.pool.QueryRow(ctx, "SHOW application_name").Scan(&app); err != nil || app != "ops-console" {
		t.Errorf("application_name from the URL = %q, %v; want ops-console", app, err)
	}
	if got := custom.pool.Config().MaxConns; got != 2 {
		t.Errorf("MaxConns with pool_max_conns=2 = %d", got)
	}
}

// TestCancelWhileWaiting: a call waiting on a row another transaction
// holds ends with its context, the error says so, and nothing changed.
func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t))
	p := store.LockoutPolicy{Threshold: 3, BaseLock: time.Minute}
	if _, err := s.RecordFailure(ctx, "k", t0, p); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT 1 FROM lockouts WHERE user_id = 'k' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = s.RecordFailure(dctx, "k", t0, p)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RecordFailure past its deadline: %v, want %v", err, context.DeadlineExceeded)
	}
	cctx, cancel2 := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel2)
	_, err = s.RecordFailure(cctx, "k", t0, p)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RecordFailure cancelled while waiting: %v, want %v", err, context.Canceled)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the cancelled calls took %s", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Lockout(ctx, "k"); err != nil || l.FailedCount != 1 {
		t.Errorf("Lockout after cancelled failures = %+v, %v; want 1 failure", l, err)
	}
	// The pool is still usable: the cancelled statements left no
	// connection stuck.
	for range 2 * maxPoolCap {
		if _, err := s.RecordFailure(ctx, "other", t0, store.LockoutPolicy{Threshold: 1000, BaseLock: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditTextPostgreSQLCannotHold: text holds neither NUL nor invalid
// UTF-8, which clients can send (a User-Agent header); such an event is
// stored with U+FFFD in their place rather than lost. Details keep a NUL
// (JSON, not JSONB).
func TestAuditTextPostgreSQLCannotHold(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t))
	ev := audit.Event{Timestamp: t0, Action: audit.ActionLogin, UserAgent: "curl\x00/8 \xff\xfe", Resource: "ok ü",
		Details: map[string]any{"nul": "a\x00b", "bad": "\xff"}}
	if err := s.AppendAudit(ctx, ev); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	evs, err := s.ListAudit(ctx, store.AuditFilter{UserID: "\xff"})
	if err != nil || len(evs) != 0 {
		t.Fatalf("ListAudit by an invalid user id = %+v, %v", evs, err)
	}
	evs, err = s.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("ListAudit = %+v, %v", evs, err)
	}
	got := evs[0]
	if got.UserAgent != "curl\uFFFD/8 \uFFFD" || got.Resource != "ok ü" {
		t.Errorf("stored UserAgent %q, Resource %q", got.UserAgent, got.Resource)
	}
	if got.Details["nul"] != "a\x00b" || got.Details["bad"] != "\uFFFD" {
		t.Errorf("stored Details %#v", got.Details)
	}
}
