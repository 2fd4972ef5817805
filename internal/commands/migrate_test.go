package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store/sqlite"
)

// TestOpenStoreSchemaChecks: openStore without migrating refuses a database
// that is not at this binary's schema, naming what to run; with migrating
// it brings a new one up, and both refuse a newer database.
func TestOpenStoreSchemaChecks(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := &config.Config{DataDir: dir}
	path := filepath.Join(dir, sqlite.DefaultFileName)

	// A fresh database without migrating: "run migrate up".
	_, err := openStore(ctx, cfg, false)
	if err == nil || !strings.Contains(err.Error(), "has no schema yet: run 'repairxctl migrate up' first") {
		t.Fatalf("unmigrated: %v", err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}

	// Migrating, then opening without: fine.
	s, err := openStore(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
	s.Close()
	s, err = openStore(ctx, cfg, false)
	if err != nil {
		t.Fatalf("migrated: %v", err)
	}
	s.Close()

	// A migration from a newer repairxctl: refused both ways, saying to
	// upgrade, and migrate status reports it (exit 3).
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = openStore(ctx, cfg, false)
	if err == nil || !strings.Contains(err.Error(), "migrated by a newer repairxctl") || !strings.Contains(err.Error(), "9999_from_the_future") {
		t.Errorf("newer, not migrating: %v", err)
	}
	_, err = openStore(ctx, cfg, true)
	if err == nil || !strings.Contains(err.Error(), "upgrade repairxctl") || exitcode.Code(err) != exitcode.Failure {
		t.Errorf("newer, migrating: %v", err)
	}
}

func TestMigrateStatusNewerDatabase(t *testing.T) {
	dir := userEnv(t)
	if r := runUser(t, "", false, "migrate", "up"); r.code != 0 {
		t.Fatalf("migrate up: %d %s", r.code, r.errOut)
	}
	db, err := sql.Open("sqlite", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'next', 'x', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := runUser(t, "", false, "migrate", "status", "-o", "json")
	if r.code != exitcode.Findings {
		t.Fatalf("migrate status: exit %d, want 3: %s", r.code, r.errOut)
	}
	var res migrateStatusResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	// A version far beyond this binary's, so that the test holds however
	// many migrations it has.
	last := len(res.Migrations) - 1
	if res.Summary.Unknown != 1 || res.Summary.Version != 9999 || last < 1 || res.Migrations[last].Status != "unknown" {
		t.Errorf("status %+v", res)
	}
	r = runUser(t, "", false, "migrate", "status")
	if r.code != exitcode.Findings || !strings.Contains(r.out, "9999\tnext\tunknown\t1970-01-01T00:00:00Z") || !strings.Contains(r.errOut, "1 unknown") {
		t.Errorf("migrate status: %d %q %q", r.code, r.out, r.errOut)
	}
	for _, args := range [][]string{{"migrate", "up"}, {"user", "list"}} {
		r = runUser(t, "", false, args...)
		if r.code != exitcode.Failure || !strings.Contains(r.errOut, "upgrade repairxctl") {
			t.Errorf("%v: exit %d %q", args, r.code, r.errOut)
		}
	}
}
