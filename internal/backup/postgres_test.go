package backup_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/testenv"
)

// richSchema exercises what a logical dump must carry: many column types,
// schemas, sequences with current values, views, a materialized view,
// functions, triggers, indexes, constraints, partitions, large rows and
// unicode.
const richSchema = `
CREATE SCHEMA app;
CREATE SCHEMA "Ünïcode Schema";
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy', '😀');
CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
CREATE SEQUENCE app.ticket_seq START 1000 INCREMENT 7;
CREATE TABLE app.customers (
  id bigserial PRIMARY KEY,
  uid uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name text NOT NULL,
  balance numeric(20,6),
  big numeric,
  ratio double precision,
  real_v real,
  photo bytea,
  doc jsonb,
  raw_json json,
  tags text[],
  matrix int[][],
  created timestamptz NOT NULL DEFAULT now(),
  birthday date,
  alarm time,
  span interval,
  ip inet,
  net cidr,
  mac macaddr,
  mood app.mood,
  qty app.positive,
  flag boolean,
  ch char(3),
  vc varchar(20),
  bits bit varying(16),
  pt point,
  rng int4range
);
COMMENT ON TABLE app.customers IS 'customers ✓';
CREATE TABLE app.orders (
  id integer PRIMARY KEY DEFAULT nextval('app.ticket_seq'),
  customer_id bigint NOT NULL REFERENCES app.customers(id) ON DELETE CASCADE,
  total numeric(12,2) CHECK (total >= 0),
  note text,
  updated_at timestamptz
);
CREATE INDEX orders_customer_idx ON app.orders (customer_id);
CREATE INDEX customers_doc_gin ON app.customers USING gin (doc);
CREATE UNIQUE INDEX customers_lower_name ON app.customers (lower(name)) WHERE name <> '';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := '2026-01-01 00:00:00+00'; RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE INSERT OR UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE FUNCTION app.total_for(c bigint) RETURNS numeric LANGUAGE sql STABLE
  AS $$ SELECT coalesce(sum(total), 0) FROM app.orders WHERE customer_id = c $$;
CREATE VIEW app.customer_totals AS SELECT c.id, c.name, app.total_for(c.id) AS total FROM app.customers c;
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.customers GROUP BY mood;
CREATE TABLE "Ünïcode Schema"."Tàble ✓" ("Cölumn" text, r text);
CREATE TABLE public.big_rows (id int PRIMARY KEY, payload text);
CREATE TABLE public.empty_table (id int);
CREATE TABLE public.parted (id int, region text) PARTITION BY LIST (region);
CREATE TABLE public.parted_eu PARTITION OF public.parted FOR VALUES IN ('eu');
CREATE TABLE public.parted_us PARTITION OF public.parted FOR VALUES IN ('us');
CREATE UNLOGGED TABLE public.scratch (k text PRIMARY KEY, v bytea);

INSERT INTO app.customers (name, balance, big, ratio, real_v, photo, doc, raw_json, tags, matrix, created, birthday,
  alarm, span, ip, net, mac, mood, qty, flag, ch, vc, bits, pt, rng)
SELECT
  CASE WHEN g % 7 = 0 THEN 'Zoë ' || g || ' — ✓ 日本語 😀' ELSE 'customer ' || g END,
  (g * 1234.567891)::numeric(20,6),
  CASE WHEN g % 5 = 0 THEN NULL ELSE (10::numeric ^ (g % 40)) + g / 3.0 END,
  CASE WHEN g % 11 = 0 THEN 'NaN'::float8 WHEN g % 13 = 0 THEN '-Infinity'::float8 ELSE g / 7.0 END,
  g / 3.0,
  decode(md5(g::text) || md5((g * 2)::text), 'hex') || '\x00ff00'::bytea,
  jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g, NULL, true), 'nested', jsonb_build_object('ü', 'ß')),
  ('{"raw": ' || g || ', "spacing":   "kept"}')::json,
  ARRAY['x' || g, NULL, 'quote"d', 'comma,d', '{brace}'],
  ARRAY[[g, g + 1], [g + 2, NULL]],
  timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour 1 second',
  date '1970-01-01' + g,
  time '00:00' + g * interval '1 minute',
  g * interval '1 day 2 hours 3.5 seconds',
  ('10.0.' || (g % 256) || '.' || (g % 200))::inet,
  ('10.' || (g % 256) || '.0.0/16')::cidr,
  ('08:00:2b:01:02:' || lpad(to_hex(g % 256), 2, '0'))::macaddr,
  (ARRAY['sad', 'ok', 'happy', '😀'])[g % 4 + 1]::app.mood,
  g,
  g % 2 = 0,
  'c' || (g % 10),
  'v' || g,
  (g % 65536)::bit(16)::bit varying(16),
  point(g, -g),
  int4range(g, g + 10)
FROM generate_series(1, 500) g;
INSERT INTO app.orders (customer_id, total, note)
SELECT (g % 500) + 1, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'order ' || g || E'\twith\ttabs\nand newline \\ backslash' END
FROM generate_series(1, 2000) g;
SELECT setval('app.ticket_seq', 99999, true);
SELECT nextval('app.customers_id_seq');
INSERT INTO "Ünïcode Schema"."Tàble ✓" VALUES ('ÿ ĳ ǆ 𝄞', 'column named r'), (NULL, NULL);
INSERT INTO public.big_rows SELECT i, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 90000) g)
FROM generate_series(1, 3) i;
INSERT INTO public.parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 100) g;
INSERT INTO public.scratch VALUES ('k', '\xdeadbeef');
REFRESH MATERIALIZED VIEW app.mood_counts;
`

// createRich fills a new database with richSchema and returns its URL.
func createRich(t *testing.T) string {
	t.Helper()
	url := testenv.Postgres(t).NewDatabase(t)
	execSQL(t, url, richSchema)
	return url
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	// Not t.Context(): cleanups run after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// dumpSchema returns pg_dump --schema-only output, without the lines that
// differ between two databases of the same schema.
func dumpSchema(t *testing.T, url string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(testenv.Postgres(t).BinDir(), "pg_dump"), "--schema-only", "--dbname="+url).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump --schema-only: %v: %s", err, out)
	}
	var lines []string
	for l := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) ||
			strings.HasPrefix(l, "-- Dumped from") || strings.HasPrefix(l, "-- Dumped by") || strings.TrimSpace(l) == "" {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// tableChecksums returns, for every table, its row count and
// md5(string_agg(t::text, ” ORDER BY t::text)), and every sequence's state.
func tableChecksums(t *testing.T, url string) map[string]string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET TimeZone TO 'UTC'; SET extra_float_digits TO 3"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'`)
	if err != nil {
		t.Fatal(err)
	}
	type rel struct{ schema, name, kind string }
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
		var x rel
		return x, r.Scan(&x.schema, &x.name, &x.kind)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rels {
		ident := pgx.Identifier{r.schema, r.name}.Sanitize()
		var v string
		q := `SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, '' ORDER BY t::text)), '-') FROM ` + ident + ` t`
		if r.kind == "S" {
			q = `SELECT last_value::text || ' ' || is_called::text FROM ` + ident
		}
		if err := conn.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", ident, err)
		}
		out[r.kind+" "+ident] = v
	}
	return out
}

// compareDatabases fails unless two databases have the same schema dump,
// table contents and sequence states.
func compareDatabases(t *testing.T, want, got string) {
	t.Helper()
	if a, b := dumpSchema(t, want), dumpSchema(t, got); a != b {
		t.Errorf("schema dumps differ:\n--- source\n%s\n--- restored\n%s", a, b)
	}
	a, b := tableChecksums(t, want), tableChecksums(t, got)
	if len(a) < 10 {
		t.Fatalf("only %d relations in the source: the fixture is broken", len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: restored %q, source %q", k, b[k], v)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: restored but not in the source", k)
		}
	}
}

func TestPostgresRoundTrip(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	src := createRich(t)
	repos := []struct {
		name string
		open func(t *testing.T) repo.Repository
	}{
		{"file", func(t *testing.T) repo.Repository { r, _ := repotest.OpenFile(t); return r }},
		{"s3", s3Repo},
	}
	for _, rp := range repos {
		for _, format := range []string{backup.FormatCustom, backup.FormatDirectory} {
			t.Run(rp.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				r := rp.open(t)
				k := newKeyPair(t)
				jobs := 1
				if format == backup.FormatDirectory {
					jobs = 2
				}
				s, err := backup.NewPostgresSource("", src, backup.PostgresOptions{Format: format, Jobs: jobs, StagingDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: k.encryption(), CompressionLevel: 6})
				if err != nil {
					t.Fatal(err)
				}
				m := res.Manifest
				if m.Source.ServerVersion != pg.Version() || m.Source.DumpFormat != format || !strings.HasPrefix(m.Source.DumpTool, "pg_dump (PostgreSQL) 15.") {
					t.Errorf("source info = %+v", m.Source)
				}
				if m.Encryption.Mode != backup.EncryptionX25519 || !slices.Equal(m.Encryption.Recipients, []string{k.recipient.String()}) {
					t.Errorf("encryption = %+v", m.Encryption)
				}
				if m.Data.PlaintextSize < 8<<20 || m.Data.StoredSize >= m.Data.PlaintextSize {
					t.Errorf("sizes = %+v: the big rows are missing or nothing was compressed", m.Data)
				}
				// 6 ordinary tables and 2 partitions (not the partitioned parent).
				if len(m.Source.Tables) != 8 {
					t.Errorf("table summary has %d tables: %+v", len(m.Source.Tables), m.Source.Tables)
				}

				// Verify, with a restore test into a scratch database.
				scratch := pg.NewDatabase(t)
				vr, err := backup.Verify(t.Context(), r, m.Ref(), k.ids(), backup.VerifyOptions{
					RestoreTest: &backup.RestoreTest{DatabaseURL: scratch, Jobs: 2, StagingDir: t.TempDir()},
				})
				if err != nil {
					t.Fatal(err)
				}
				if vr.Content.TableData != 8 || vr.Content.Entries < 30 {
					t.Errorf("table of contents: %+v", vr.Content)
				}
				if vr.RestoreTest == nil || !vr.RestoreTest.Compared || vr.RestoreTest.Mismatches != 0 || len(vr.RestoreTest.Tables) != 8 {
					t.Errorf("restore test = %+v", vr.RestoreTest)
				}
				if !vr.Recorded {
					t.Error("the verification was not recorded")
				}
				compareDatabases(t, src, scratch)

				// List shows it complete and verified.
				entries, err := backup.List(t.Context(), r, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != 1 || !entries[0].Complete() || entries[0].Verification == nil || !entries[0].Verification.RestoreTest {
					t.Fatalf("list = %+v", entries)
				}

				// Restore into a new database.
				e, err := backup.Resolve(t.Context(), r, "", "latest")
				if err != nil {
					t.Fatal(err)
				}
				target := pg.NewDatabase(t)
				rr, err := backup.Restore(t.Context(), r, e.Ref, k.ids(), backup.Target{Database: target, Jobs: 2, StagingDir: t.TempDir()}, backup.RestoreOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if format == backup.FormatCustom && !rr.PreVerified {
					t.Error("a custom-format restore did not verify the backup first")
				}
				compareDatabases(t, src, target)

				// The target is no longer empty: refused, then forced.
				_, err = backup.Restore(t.Context(), r, e.Ref, k.ids(), backup.Target{Database: target}, backup.RestoreOptions{})
				mustErr(t, err, backup.ErrTargetNotEmpty)
				execSQL(t, target, "UPDATE app.orders SET total = 0; INSERT INTO public.empty_table VALUES (1)")
				if _, err := backup.Restore(t.Context(), r, e.Ref, k.ids(), backup.Target{Database: target, Force: true}, backup.RestoreOptions{}); err != nil {
					t.Fatal(err)
				}
				compareDatabases(t, src, target)
			})
		}
	}
}

// TestPostgresSchemaDumpNormalisation guards the comparison itself: two
// databases that differ must compare unequal.
func TestPostgresComparisonDetectsDifferences(t *testing.T) {
	t.Parallel()
	a, b := createRich(t), createRich(t)
	execSQL(t, b, "UPDATE app.customers SET name = name || '.' WHERE id = 17")
	if reflectEqual(tableChecksums(t, a), tableChecksums(t, b)) {
		t.Error("a changed row went unnoticed by tableChecksums")
	}
	execSQL(t, b, "CREATE INDEX extra ON app.orders (total)")
	if dumpSchema(t, a) == dumpSchema(t, b) {
		t.Error("an extra index went unnoticed by dumpSchema")
	}
}

func reflectEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPostgresRestoreTestDetectsMismatch: a manifest whose summary differs
// from what the dump restores fails the restore test with ErrIntegrity.
func TestPostgresRestoreTestDetectsMismatch(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	src := pg.NewDatabase(t)
	execSQL(t, src, "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g")
	r, _ := repotest.OpenFile(t)
	s, _ := backup.NewPostgresSource("db", src, backup.PostgresOptions{})
	res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if len(m.Source.Tables) != 1 || m.Source.Tables[0].Rows != 10 {
		t.Fatalf("summary = %+v", m.Source.Tables)
	}
	// Tamper with the summary only (the data object stays intact).
	m.Source.Tables[0].Rows = 11
	b, _ := jsonMarshal(m)
	putObject(t, r, m.Ref().Prefix()+"manifest.json", b)
	vr, err := backup.Verify(t.Context(), r, m.Ref(), nil, backup.VerifyOptions{RestoreTest: &backup.RestoreTest{DatabaseURL: pg.NewDatabase(t)}})
	mustErr(t, err, backup.ErrIntegrity)
	if vr == nil || vr.RestoreTest == nil || vr.RestoreTest.Mismatches != 1 || !strings.Contains(err.Error(), "10 rows, the manifest says 11") {
		t.Errorf("report = %+v, err = %v", vr, err)
	}
	if entries, _ := backup.List(t.Context(), r, "db"); len(entries) != 1 || entries[0].Verification != nil {
		t.Errorf("a failed verification was recorded: %+v", entries)
	}
}

// TestPostgresSourceErrors: a missing database, a missing pg_dump, bad URLs.
func TestPostgresSourceErrors(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	r, _ := repotest.OpenFile(t)
	missing := strings.Replace(pg.URL(), "/postgres?", "/no_such_database?", 1)
	s, err := backup.NewPostgresSource("gone", missing, backup.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
	if err == nil || !strings.Contains(err.Error(), "no_such_database") {
		t.Fatalf("backup of a missing database: %v", err)
	}
	if k := keys(t, r, ""); len(k) != 0 {
		t.Errorf("a failed run left objects: %q", k)
	}

	s, _ = backup.NewPostgresSource("nobin", pg.URL(), backup.PostgresOptions{BinDir: t.TempDir()})
	_, err = backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
	if err == nil || !strings.Contains(err.Error(), "pg_dump not found") {
		t.Errorf("backup without pg_dump: %v", err)
	}

	for _, bad := range []string{"mysql://x", "host=localhost dbname=x", "postgres://u:hunter2@[::1"} {
		_, err := backup.NewPostgresSource("x", bad, backup.PostgresOptions{})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewPostgresSource(%q) = %v", bad, err)
		}
	}
	if _, err := backup.NewPostgresSource("x", pg.URL(), backup.PostgresOptions{Jobs: 4}); err == nil {
		t.Error("jobs with the custom format were accepted")
	}
}

// TestPostgresPasswordNotOnCommandLine runs a backup as a user with a
// password and checks the password reached pg_dump through the environment.
func TestPostgresPassword(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	src := pg.NewDatabase(t)
	role := "backup_" + strings.ToLower(randomSuffix())
	execSQL(t, src, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw-hunter2'; CREATE TABLE t (v text); INSERT INTO t VALUES ('x');
		GRANT SELECT ON t TO %s`, role, role))
	t.Cleanup(func() { execSQL(t, pg.URL(), "DROP ROLE IF EXISTS "+role) })
	t.Cleanup(func() { execSQL(t, src, "DROP OWNED BY "+role) })
	url := regexp.MustCompile(`postgres://postgres@`).ReplaceAllString(src, "postgres://"+role+":pw-hunter2@")
	// Trust authentication accepts any password, so a wrong one proves
	// nothing here; what matters is that none leaks into arguments.
	fake := fakePgDump(t, `for a in "$@"; do case "$a" in *hunter2*) echo "password on the command line" >&2; exit 3;; esac; done
[ "$PGPASSWORD" = pw-hunter2 ] || { echo "PGPASSWORD not set" >&2; exit 4; }
exec `+filepath.Join(pg.BinDir(), "pg_dump")+` "$@"`)
	r, _ := repotest.OpenFile(t)
	s, _ := backup.NewPostgresSource("pw", url, backup.PostgresOptions{BinDir: fake, NoTableSummary: true})
	if _, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}}); err != nil {
		t.Fatal(err)
	}
	_, err := backup.NewPostgresSource("", "postgres://u:pw-hunter2@h/db?sslmode=disable", backup.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := func() error {
		s, _ := backup.NewPostgresSource("pw", strings.Replace(url, "/t_", "/nonexistent_t_", 1), backup.PostgresOptions{})
		_, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
		return err
	}(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an error message carries the password: %v", err)
	}
}

// TestPostgresWithoutSummary: a backup without the table summary still
// verifies and restore-tests (rows counted, nothing to compare), and a
// custom-format dump restores into a directory as a file pg_restore reads.
func TestPostgresWithoutSummary(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	src := pg.NewDatabase(t)
	execSQL(t, src, "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g")
	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	s, _ := backup.NewPostgresSource("db", src, backup.PostgresOptions{NoTableSummary: true})
	res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: k.encryption()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Source.Tables) != 0 {
		t.Errorf("summary = %+v", res.Manifest.Source.Tables)
	}
	vr, err := backup.Verify(t.Context(), r, res.Manifest.Ref(), k.ids(), backup.VerifyOptions{RestoreTest: &backup.RestoreTest{DatabaseURL: pg.NewDatabase(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if vr.RestoreTest.Compared || len(vr.RestoreTest.Tables) != 1 || vr.RestoreTest.Tables[0].Rows != 10 || len(vr.Warnings) != 1 {
		t.Errorf("restore test = %+v, warnings %q", vr.RestoreTest, vr.Warnings)
	}

	dir := filepath.Join(t.TempDir(), "dumps")
	if _, err := backup.Restore(t.Context(), r, res.Manifest.Ref(), k.ids(), backup.Target{Dir: dir}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	dbName := res.Manifest.Source.Database
	out, err := exec.Command(filepath.Join(pg.BinDir(), "pg_restore"), "--list", filepath.Join(dir, dbName+".dump")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TABLE DATA public t") {
		t.Errorf("pg_restore --list of the restored dump: %v\n%s", err, out)
	}
	// A restore needs exactly one target.
	_, err = backup.Restore(t.Context(), r, res.Manifest.Ref(), k.ids(), backup.Target{}, backup.RestoreOptions{})
	if err == nil {
		t.Error("a restore without a target was accepted")
	}
}
