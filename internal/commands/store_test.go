package commands

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/postgres"
	"github.com/repairx/repairxctl/internal/testenv"
	"github.com/repairx/repairxctl/internal/ui"
)

// dbPassword goes into every database URL of these tests and must appear in
// no output. The test server trusts local connections, so it is never
// checked.
const dbPassword = "s3cret-Pa55word"

// TestUserAndMigrateOnPostgres runs the user and migrate commands against a
// real PostgreSQL database named by REPAIRX_DATABASE_URL: they use it and
// not the embedded store in data_dir, and never print the password.
func TestUserAndMigrateOnPostgres(t *testing.T) {
	dir := filepath.Dir(filepath.Dir(userEnv(t)))
	raw := testenv.Postgres(t).NewDatabase(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", dbPassword)
	dbURL := u.String()
	t.Setenv("REPAIRX_DATABASE_URL", dbURL)
	noSecret := func(what string, r run) {
		t.Helper()
		if strings.Contains(r.out+r.errOut, dbPassword) {
			t.Errorf("%s printed the database password: %q %q", what, r.out, r.errOut)
		}
	}
	wantName := "postgres://postgres@" + u.Host + u.Path

	// A new database: every migration pending, nothing created.
	r := runUser(t, "", false, "migrate", "status", "-o", "json")
	noSecret("migrate status", r)
	if r.code != 0 {
		t.Fatalf("migrate status: exit %d: %s", r.code, r.errOut)
	}
	var st migrateStatusResult
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatal(err)
	}
	embedded, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if st.Database != wantName || !st.Exists || st.Summary.Pending != len(embedded) || st.Summary.Applied != 0 {
		t.Errorf("migrate status of a new database = %+v, want %s with %d pending", st, wantName, len(embedded))
	}

	// user create migrates and creates; user list reads it back.
	created := mustCreate(t, "Owner@Example.test", "owner", "pw-long-enough")
	mustCreate(t, "tech@example.test", "technician", "pw-long-enough", "--org", "Fixit Ltd")
	r = runUser(t, "", false, "user", "list", "-o", "json")
	noSecret("user list", r)
	if r.code != 0 {
		t.Fatalf("user list: exit %d: %s", r.code, r.errOut)
	}
	var list userListResult
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 2 || list.Users[0].Email != "owner@example.test" || list.Users[0].ID != created.ID ||
		list.Users[1].Organisation != "Fixit Ltd" {
		t.Errorf("user list = %+v", list.Users)
	}
	r = runUser(t, "", false, "user", "list")
	if r.code != 0 || !strings.Contains(r.out, "owner@example.test\towner\tdefault\tactive") {
		t.Errorf("user list (table): exit %d %q %q", r.code, r.out, r.errOut)
	}

	// Everything is in PostgreSQL, nothing in data_dir.
	if _, err := os.Stat(filepath.Join(dir, "data", "repairx.db")); !os.IsNotExist(err) {
		t.Errorf("an embedded store was created in data_dir: %v", err)
	}
	s, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.UserByEmail(t.Context(), "owner@example.test"); err != nil || got.Role != store.RoleOwner {
		t.Errorf("the owner in PostgreSQL: %+v, %v", got, err)
	}
	if evs, err := s.ListAudit(t.Context(), store.AuditFilter{}); err != nil || len(evs) != 2 {
		t.Errorf("audit events in PostgreSQL: %d, %v; want one per user created", len(evs), err)
	}

	// The schema is current: status says so, up applies nothing.
	r = runUser(t, "", false, "migrate", "status")
	noSecret("migrate status", r)
	if r.code != 0 || !strings.Contains(r.out, "1\tinit\tapplied\t") || !strings.Contains(r.errOut, "up to date at schema version") {
		t.Errorf("migrate status: exit %d %q %q", r.code, r.out, r.errOut)
	}
	r = runUser(t, "", false, "migrate", "up", "-o", "json")
	noSecret("migrate up", r)
	var up migrateUpResult
	if r.code != 0 || json.Unmarshal([]byte(r.out), &up) != nil || len(up.Applied) != 0 || up.Database != wantName {
		t.Errorf("migrate up of a current database: exit %d %q %q", r.code, r.out, r.errOut)
	}

	// The URL may be a file: reference, as any secret.
	if err := os.WriteFile(filepath.Join(dir, "db-url"), []byte(dbURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REPAIRX_DATABASE_URL", "file:db-url")
	r = runUser(t, "", false, "user", "list")
	if r.code != 0 || !strings.Contains(r.out, "tech@example.test") {
		t.Errorf("user list with database.url=file:db-url: exit %d %q %q", r.code, r.out, r.errOut)
	}
}

// TestPostgresOpenErrors: a database URL that cannot work gives the exit
// code that says why, names database.url, and never shows the password.
func TestPostgresOpenErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name, url string
		code      int
		stderr    string
	}{
		{"nothing listens", fmt.Sprintf("postgres://repairx:%s@%s/repairx", dbPassword, closed), exitcode.TempFail,
			"postgres://repairx@" + closed + "/repairx: .*is the server running"},
		{"does not parse", "postgres://repairx:" + dbPassword + "@db:port/repairx", exitcode.Usage,
			"config: database.url: invalid PostgreSQL URL: it does not parse \\(invalid port\\)"},
		{"missing env reference", "env:REPAIRX_TEST_NO_SUCH_VAR", exitcode.Usage,
			"config: database.url: environment variable REPAIRX_TEST_NO_SUCH_VAR is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			userEnv(t)
			t.Setenv("REPAIRX_DATABASE_URL", tt.url)
			for _, args := range [][]string{{"user", "list"}, {"migrate", "up"}, {"migrate", "status"}} {
				r := runUser(t, "", false, args...)
				if r.code != tt.code || !matches(tt.stderr, r.errOut) || !strings.Contains(r.errOut, "REPAIRX_DATABASE_URL") {
					t.Errorf("%v: exit %d %q, want exit %d and %q naming REPAIRX_DATABASE_URL", args, r.code, r.errOut, tt.code, tt.stderr)
				}
				if strings.Contains(r.out+r.errOut, dbPassword) {
					t.Errorf("%v printed the password: %q", args, r.errOut)
				}
			}
		})
	}
}

// TestOpenStoreNeedsADataDir: without database.url the embedded store needs
// data_dir.
func TestOpenStoreNeedsADataDir(t *testing.T) {
	_, err := openStore(context.Background(), &config.Config{}, true)
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "data_dir") {
		t.Fatalf("no data dir: %v", err)
	}
}

// matches reports whether the regular expression re matches s.
func matches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestServeOnPostgres: serve keeps its users, tokens and audit rows in the
// PostgreSQL database of REPAIRX_DATABASE_URL, where `user create` beside it
// writes too, and its readiness probe reaches the database.
func TestServeOnPostgres(t *testing.T) {
	dir := isolate(t)
	dataDir := filepath.Join(dir, "data-dir")
	u, err := url.Parse(testenv.Postgres(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", dbPassword)
	t.Setenv("REPAIRX_DATABASE_URL", u.String())
	// With a shared database the key ring lives in it, sealed under this.
	t.Setenv("REPAIRX_AUTH_KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	addr := freePort(t)
	base := "https://" + addr
	stderr, stop := startServe(t, "--data-dir", dataDir, "--listen", addr)
	c := waitLive(t, base, stderr, dataDir)

	ios, in, _, errOut := ui.Test()
	in.WriteString("a password long enough\n")
	if code := Run(context.Background(), strings.Fields("user create --email boss@example.test --role manager --password-stdin"), NewFactory(ios)); code != 0 {
		t.Fatalf("user create exit %d: %s", code, errOut)
	}
	resp, err := c.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"boss@example.test","password":"a password long enough"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d; stderr:\n%s", resp.StatusCode, stderr.String())
	}
	resp, err = c.Get(base + "/api/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ready: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exit %d; stderr:\n%s", code, stderr.String())
	}

	if _, err := os.Stat(filepath.Join(dataDir, "repairx.db")); !os.IsNotExist(err) {
		t.Errorf("serve created an embedded store beside PostgreSQL: %v", err)
	}
	s, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	usr, err := s.UserByEmail(t.Context(), "boss@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if toks, err := s.ListRefreshTokens(t.Context(), usr.ID); err != nil || len(toks) != 1 {
		t.Errorf("refresh tokens in PostgreSQL after a login: %d, %v; want 1", len(toks), err)
	}
	if strings.Contains(stderr.String(), dbPassword) {
		t.Errorf("serve logged the database password")
	}
}
