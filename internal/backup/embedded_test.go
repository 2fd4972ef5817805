package backup_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/store/sqlite"
)

// openSQL opens a plain connection pool on a SQLite file.
func openSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	u := url.URL{Path: path}
	db, err := sql.Open("sqlite", "file:"+u.EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteContent summarises a database: its schema and every row of the
// tables the test cares about.
func sqliteContent(t *testing.T, path string) string {
	t.Helper()
	db := openSQL(t, path)
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		"SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name)",
		"SELECT count(*) || ':' || group_concat(version || name, ',') FROM (SELECT * FROM schema_migrations ORDER BY version)",
		"SELECT count(*) || ':' || sum(length(body)) || ':' || group_concat(id || hex(body), ',') FROM (SELECT * FROM notes ORDER BY id)",
	} {
		var s sql.NullString
		if err := db.QueryRow(q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b.WriteString(s.String + "\n")
	}
	return b.String()
}

func TestEmbeddedRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dataDir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dataDir, sqlite.DefaultFileName)
	// A live store, as serve keeps it: open, migrated, in WAL mode.
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db := openSQL(t, path)
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body BLOB);
		WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 5000)
		INSERT INTO notes SELECT i, randomblob(i % 700) || 'ünïcödé' FROM g`); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the fixture has no WAL content (%v): the copy would not be tested against one", err)
	}
	want := sqliteContent(t, path)

	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	s, err := backup.NewEmbeddedSource("", path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(ctx, r, s, backup.RunOptions{Encryption: k.encryption()})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Source.Name != "embedded" || m.Source.Kind != backup.KindEmbedded || m.Source.DumpFormat != "sqlite" ||
		m.Source.FileName != sqlite.DefaultFileName || !strings.HasPrefix(m.Source.ServerVersion, "3.") {
		t.Errorf("source = %+v", m.Source)
	}
	// The staged copy is gone.
	ents, _ := os.ReadDir(dataDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".backup-") {
			t.Errorf("staged copy left behind: %s", e.Name())
		}
	}
	vr, err := backup.Verify(ctx, r, m.Ref(), k.ids(), backup.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vr.Content.Format != "sqlite" {
		t.Errorf("content = %+v", vr.Content)
	}

	// Restore to a file, and into a data directory.
	file := filepath.Join(t.TempDir(), "restored.db")
	if _, err := backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{File: file}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := sqliteContent(t, file); got != want {
		t.Errorf("restored file differs:\n%s\nwant\n%s", got, want)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored file mode: %v, %v", fi.Mode(), err)
	}
	dir := filepath.Join(t.TempDir(), "newdata")
	if _, err := backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{Dir: dir}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := sqliteContent(t, filepath.Join(dir, sqlite.DefaultFileName)); got != want {
		t.Errorf("restored data directory differs")
	}
	// A directory that holds something else is not empty: refused, and
	// nothing is written into it.
	busy := filepath.Join(t.TempDir(), "busy")
	if err := os.MkdirAll(busy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "other"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{Dir: busy}, backup.RestoreOptions{})
	mustErr(t, err, backup.ErrTargetNotEmpty)
	if ents, _ := os.ReadDir(busy); len(ents) != 1 || ents[0].Name() != "other" {
		t.Errorf("a refused restore changed the directory: %v", ents)
	}

	// Over the live store: refused without force, and with force while its
	// WAL holds commits.
	_, err = backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{File: path}, backup.RestoreOptions{})
	mustErr(t, err, backup.ErrTargetNotEmpty)
	_, err = backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{File: path, Force: true}, backup.RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "stop serve") {
		t.Fatalf("restore over a live store: %v", err)
	}
	// Once the store is closed (serve stopped), a forced restore replaces it.
	if _, err := db.Exec("DELETE FROM notes WHERE id > 10"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st.Close()
	if _, err := backup.Restore(ctx, r, m.Ref(), k.ids(), backup.Target{File: path, Force: true}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := sqliteContent(t, path); got != want {
		t.Errorf("the replaced store differs from the backup")
	}
	st2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedMissing(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	s, _ := backup.NewEmbeddedSource("", filepath.Join(t.TempDir(), "nope.db"))
	_, err := backup.Run(context.Background(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup of a missing store: %v", err)
	}
	noObjects(t, r)
}
