package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/testenv"
	"github.com/repairx/repairxctl/internal/ui"
)

// runArgs runs one command line in this process with ctx.
func runArgs(ctx context.Context, args ...string) run {
	ios, _, out, errOut := ui.Test()
	code := Run(ctx, args, NewFactory(ios))
	return run{code, out.String(), errOut.String()}
}

// mustRun runs a command line that must exit with want.
func mustRun(t *testing.T, want int, args ...string) run {
	t.Helper()
	r := runArgs(t.Context(), args...)
	if r.code != want {
		t.Fatalf("repairxctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.out, r.errOut)
	}
	return r
}

// keygen writes an identity into dir and returns its path and recipient.
func keygen(t *testing.T, dir, name string) (path, recipient string) {
	t.Helper()
	path = filepath.Join(dir, name)
	r := mustRun(t, 0, "backup", "keygen", "--out", path, "-o", "json")
	var res backupKeygenResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	return path, res.Recipient
}

func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// s3Objects lists the keys under prefix in bucket, and the multipart
// uploads still open there.
func s3Objects(t *testing.T, srv *testenv.S3Server, bucket, prefix string) (keys, uploads []string) {
	t.Helper()
	ctx := context.Background()
	out, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	mu, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range mu.Uploads {
		uploads = append(uploads, aws.ToString(u.Key))
	}
	return keys, uploads
}

// fillShop creates a database with schemas, many column types, a
// sequence, a view, a function, a trigger, indexes, large rows and unicode.
func fillShop(t *testing.T, dbURL string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), `
CREATE SCHEMA shop;
CREATE SEQUENCE shop.order_seq START 1000;
CREATE TYPE shop.status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE shop.customers (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	email text UNIQUE,
	created timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z',
	balance numeric(12,2),
	score double precision,
	tags text[],
	meta jsonb,
	photo bytea,
	active boolean,
	uid uuid,
	ip inet,
	birthday date,
	opens time,
	period interval
);
CREATE INDEX customers_lower_name ON shop.customers (lower(name));
CREATE TABLE shop.orders (
	id bigint PRIMARY KEY DEFAULT nextval('shop.order_seq'),
	customer_id bigint NOT NULL REFERENCES shop.customers(id),
	status shop.status NOT NULL DEFAULT 'new',
	total numeric,
	note text
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
CREATE FUNCTION shop.mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.note := coalesce(NEW.note, '') || ' ✓'; RETURN NEW; END $$;
CREATE TRIGGER orders_mark BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.mark();
CREATE VIEW shop.big_orders AS SELECT o.id, c.name, o.total FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id WHERE o.total > 100;
CREATE TABLE public.blobs (id int PRIMARY KEY, body text, data bytea);

INSERT INTO shop.customers (name, email, balance, score, tags, meta, photo, active, uid, ip, birthday, opens, period)
SELECT 'Zoë ' || i || ' 日本語 🚀', 'c' || i || '@example.test', i * 1.25, i / 3.0, ARRAY['a' || i, 'ü'],
       jsonb_build_object('i', i, 'nested', jsonb_build_object('k', 'väl')), decode(md5(i::text), 'hex'), i % 2 = 0,
       md5(i::text)::uuid, ('10.0.' || (i % 250) || '.' || (i % 200))::inet, DATE '2000-01-01' + i, TIME '08:00' + i * INTERVAL '1 second',
       i * INTERVAL '1 minute'
FROM generate_series(1, 3000) i;
INSERT INTO shop.orders (customer_id, status, total, note)
SELECT 1 + i % 3000, (ARRAY['new', 'paid', 'shipped']::shop.status[])[1 + i % 3], i * 3.5, CASE WHEN i % 7 = 0 THEN NULL ELSE 'order ' || i END
FROM generate_series(1, 5000) i;
INSERT INTO public.blobs VALUES (1, repeat('large row ', 300000), decode(repeat('deadbeef', 250000), 'hex')), (2, '', NULL);
`)
	if err != nil {
		t.Fatal(err)
	}
}

// dbFingerprint describes a database for comparison: its schema (pg_dump
// --schema-only) and every table's row count and content checksum.
func dbFingerprint(t *testing.T, pg *testenv.PostgresServer, dbURL string) (schema string, tables map[string]string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(pg.BinDir(), "pg_dump"), "--schema-only", "--dbname", dbURL).Output()
	if err != nil {
		t.Fatalf("pg_dump --schema-only: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		// Newer pg_dump releases guard dumps with a random \restrict key.
		if !strings.HasPrefix(l, `\restrict`) && !strings.HasPrefix(l, `\unrestrict`) {
			lines = append(lines, l)
		}
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	tables = map[string]string{}
	for _, n := range names {
		var sum string
		if err := conn.QueryRow(t.Context(), `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+n+` t`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		tables[n] = sum
	}
	var seq string
	if err := conn.QueryRow(t.Context(), `SELECT last_value || ':' || is_called FROM shop.order_seq`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	tables["sequence shop.order_seq"] = seq
	return strings.Join(lines, "\n"), tables
}

func withPassword(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	return u.String()
}

// TestBackupPostgresS3 backs a PostgreSQL database up into the S3 server,
// lists, verifies (with a restore test) and restores it into a new
// database, which must equal the original; a wrong identity is 12, a
// missing backup 10, and the metrics textfile says what happened. The
// database password (in config secrets only) appears in no output.
func TestBackupPostgresS3(t *testing.T) {
	dir := isolate(t)
	pg := testenv.Postgres(t)
	srcURL := pg.NewDatabase(t)
	fillShop(t, srcURL)
	scratchURL, restoredURL, wrongURL := pg.NewDatabase(t), pg.NewDatabase(t), pg.NewDatabase(t)
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	t.Setenv("TEST_BACKUP_S3_KEY", srv.AccessKey())
	t.Setenv("TEST_BACKUP_S3_SECRET", srv.SecretKey())
	t.Setenv("TEST_BACKUP_MAIN_URL", withPassword(t, srcURL))
	t.Setenv("TEST_BACKUP_RESTORED_URL", withPassword(t, restoredURL))
	idFile, recipient := keygen(t, dir, "id.txt")
	prom := filepath.Join(dir, "repairxctl_backup.prom")
	cfg := writeConfig(t, dir, fmt.Sprintf(`backup:
  recipients: [%s]
  sources:
    main:
      kind: postgres
      url: env:TEST_BACKUP_MAIN_URL
    restored:
      kind: postgres
      url: env:TEST_BACKUP_RESTORED_URL
  repositories:
    offsite:
      url: s3://%s/prod
      endpoint: %s
      region: %s
      path_style: true
      access_key_id: env:TEST_BACKUP_S3_KEY
      secret_access_key: env:TEST_BACKUP_S3_SECRET
    nobucket:
      url: s3://%s-missing/prod
      endpoint: %s
      path_style: true
      access_key_id: env:TEST_BACKUP_S3_KEY
      secret_access_key: env:TEST_BACKUP_S3_SECRET
  metrics:
    textfile: %s
`, recipient, bucket, srv.Endpoint(), srv.Region(), bucket, srv.Endpoint(), prom))
	var outputs []run
	do := func(want int, args ...string) run {
		t.Helper()
		r := mustRun(t, want, append([]string{"--config", cfg}, args...)...)
		outputs = append(outputs, r)
		return r
	}

	// run
	r := do(0, "backup", "run", "--source", "main", "--repo", "offsite", "-o", "json")
	var res backupRunResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Source != "main" || res.SourceKind != "postgres" || res.Repository != "offsite" || res.StoredSize < 1000 ||
		res.PlaintextSize < 3_000_000 || len(res.EncryptedTo) != 1 || res.EncryptedTo[0] != recipient || len(res.SHA256) != 64 {
		t.Errorf("run result %+v", res)
	}
	if !strings.Contains(r.errOut, `"result":"ok"`) || !strings.Contains(r.errOut, `"id":"`+res.ID+`"`) {
		t.Errorf("no log line: %s", r.errOut)
	}
	keys, uploads := s3Objects(t, srv, bucket, "prod/")
	sort.Strings(keys)
	wantKeys := []string{"prod/main/" + res.ID + "/data.zst.age", "prod/main/" + res.ID + "/manifest.json"}
	if strings.Join(keys, " ") != strings.Join(wantKeys, " ") || len(uploads) != 0 {
		t.Errorf("bucket holds %v (uploads %v), want %v", keys, uploads, wantKeys)
	}

	// metrics
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^repairx_backup_result\{source="main"\} 1$`, fmt.Sprintf(`(?m)^repairx_backup_size_bytes\{source="main"\} %d$`, res.StoredSize),
		`(?m)^repairx_backup_last_success_timestamp_seconds\{source="main"\} 1\d{9}(\.\d+)?$`, `(?m)^repairx_backup_duration_seconds\{source="main"\} \d`} {
		if !regexp.MustCompile(re).Match(b) {
			t.Errorf("textfile lacks %s:\n%s", re, b)
		}
	}

	// list
	r = do(0, "backup", "list", "--repo", "offsite", "-o", "json")
	var list backupListResult
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Backups) != 1 || list.Repository != "s3://"+bucket+"/prod" {
		t.Fatalf("list %+v", list)
	}
	if e := list.Backups[0]; e.ID != res.ID || e.State != "complete" || e.SourceKind != "postgres" || e.EncryptedTo[0] != recipient ||
		e.VerifiedAt != nil || e.StoredSize != res.StoredSize {
		t.Errorf("listed %+v", e)
	}

	// verify, with a restore test into a scratch database
	r = do(0, "backup", "verify", "latest", "--repo", "offsite", "--identity", idFile, "--restore-test", "--scratch-db", scratchURL, "-o", "json")
	var ver backupVerifyResult
	if err := json.Unmarshal([]byte(r.out), &ver); err != nil {
		t.Fatal(err)
	}
	if ver.ID != res.ID || ver.Content.Format != "pg_dump custom" || ver.Content.TableData < 3 || ver.RestoreTest == nil ||
		!ver.RestoreTest.Compared || ver.RestoreTest.Mismatches != 0 || len(ver.RestoreTest.Tables) < 3 || !ver.Recorded {
		t.Errorf("verify %+v (restore test %+v)", ver, ver.RestoreTest)
	}
	r = do(0, "backup", "list", "--repo", "offsite", "--source", "main", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatal(err)
	}
	if e := list.Backups[0]; e.VerifiedAt == nil || !e.RestoreTested {
		t.Errorf("verification not listed: %+v", e)
	}

	// restore into a new database, named by the config (its URL a secret)
	do(0, "backup", "restore", res.ID, "--source", "main", "--repo", "offsite", "--identity", idFile, "--to-db", "restored")
	srcSchema, srcTables := dbFingerprint(t, pg, srcURL)
	gotSchema, gotTables := dbFingerprint(t, pg, restoredURL)
	if srcSchema != gotSchema {
		t.Errorf("restored schema differs:\n%s\n---\n%s", srcSchema, gotSchema)
	}
	if len(srcTables) < 4 || fmt.Sprint(srcTables) != fmt.Sprint(gotTables) {
		t.Errorf("restored tables differ:\n%v\n%v", srcTables, gotTables)
	}
	// Not again over the restored data without --force.
	r = do(1, "backup", "restore", "latest", "--repo", "offsite", "--identity", idFile, "--to-db", "restored")
	if !strings.Contains(r.errOut, "not empty") {
		t.Errorf("restore over data: %s", r.errOut)
	}

	// 12: a wrong identity; the target stays empty.
	otherID, _ := keygen(t, dir, "other.txt")
	r = do(12, "backup", "verify", "latest", "--repo", "offsite", "--identity", otherID)
	if !strings.Contains(r.errOut, "wrong identity") {
		t.Errorf("wrong identity: %s", r.errOut)
	}
	do(12, "backup", "restore", "latest", "--repo", "offsite", "--identity", otherID, "--to-db", wrongURL)
	if _, tables := dbFingerprint(t, pg, srcURL); len(tables) == 0 {
		t.Fatal("no tables")
	}
	conn, err := pgx.Connect(t.Context(), wrongURL)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('shop', 'public')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a failed restore left %d relations (%v)", n, err)
	}
	conn.Close(context.Background())

	// 10: no such backup.
	do(10, "backup", "verify", "20200101T000000Z-aaaaaa", "--source", "main", "--repo", "offsite", "--identity", idFile)
	do(10, "backup", "restore", "--at", "2020-01-01", "--source", "main", "--repo", "offsite", "--identity", idFile, "--to-db", wrongURL)
	do(10, "backup", "list", "--repo", "nobucket")

	for _, r := range outputs {
		if strings.Contains(r.out+r.errOut, dbPassword) || strings.Contains(r.out+r.errOut, srv.SecretKey()) {
			t.Errorf("a secret was printed: %s %s", r.out, r.errOut)
		}
	}
}

// TestBackupUnreachableRepository runs repairxctl as cron would, against an
// S3 endpoint that refuses connections: exit 75 after the retries, the
// failure in the log file and the metrics, and notifications by Slack and
// e-mail. Slack and the mail server are stand-ins (httptest and fakeSMTP:
// neither can run here); the child process trusts their certificates
// through SSL_CERT_FILE, as it would a private CA.
func TestBackupUnreachableRepository(t *testing.T) {
	dir := isolate(t)
	closed := freePort(t) // listened on, then closed: connections are refused
	slack := make(chan string, 4)
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		slack <- r.URL.Path + " " + string(b)
		_, _ = io.WriteString(w, "ok")
	}))
	defer hook.Close()
	mail := startFakeSMTP(t, true)
	ca := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw}), mail.certPEM...)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("alpha"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, recipient := keygen(t, dir, "id.txt")
	prom, logFile := filepath.Join(dir, "backup.prom"), filepath.Join(dir, "backup.log")
	const s3Secret, hookToken, smtpPassword = "s3-S3CRET-key", "T0/B0/h00kT0k3n", "smtp-Pa55"
	cfg := writeConfig(t, dir, fmt.Sprintf(`backup:
  recipients: [%s]
  repositories:
    offsite:
      url: s3://backups/prod
      endpoint: http://%s
      path_style: true
      access_key_id: AKIDTEST
      secret_access_key: env:TEST_S3_SECRET
      max_retries: 1
  log_file: %s
  metrics:
    textfile: %s
  notify:
    slack_webhook: env:TEST_SLACK_HOOK
    email:
      smtp_addr: %s
      from: Backups <backup@example.test>
      to: [ops@example.test]
      username: backup
      password: env:TEST_SMTP_PASSWORD
`, recipient, closed, logFile, prom, mail.addr))

	cmd := exec.Command("repairxctl", "--config", cfg, "backup", "run", "--source", "dir://"+data, "--name", "files", "--repo", "offsite", "--quiet")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile, "TEST_S3_SECRET="+s3Secret,
		"TEST_SLACK_HOOK="+hook.URL+"/services/"+hookToken, "TEST_SMTP_PASSWORD="+smtpPassword)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 75 {
		t.Fatalf("exit %v, want 75\nstderr: %s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %s", stdout.String())
	}
	errText := stderr.String()
	for _, want := range []string{`"result":"failed","exit_code":75,`, `"source":"files"`, "repository unavailable", "(safe to retry)"} {
		if !strings.Contains(errText, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errText)
		}
	}
	if strings.Contains(errText, "warning:") {
		t.Errorf("metrics, log or notifications failed:\n%s", errText)
	}
	for _, secret := range []string{s3Secret, hookToken, smtpPassword} {
		if strings.Contains(errText, secret) {
			t.Errorf("stderr shows the secret %q", secret)
		}
	}

	select {
	case msg := <-slack:
		if !strings.HasPrefix(msg, "/services/"+hookToken+" ") || !strings.Contains(msg, "backup of files failed") || !strings.Contains(msg, "exit status 75, tempfail") {
			t.Errorf("Slack got %s", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no Slack notification")
	}
	m := mail.next(t)
	if !m.tls || m.auth != "\x00backup\x00"+smtpPassword || !strings.Contains(m.data, "Subject: repairxctl backup of files failed") {
		t.Errorf("mail %+v", m)
	}

	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "repairx_backup_result{source=\"files\"} 0\n") || strings.Contains(string(b), "last_success") {
		t.Errorf("textfile:\n%s", b)
	}
	b, err = os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec backupRunRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.ExitCode != 75 || rec.Result != "failed" || rec.Repository != "offsite" {
		t.Errorf("log line %s (%v)", b, err)
	}

	// list is a temporary failure too.
	t.Setenv("TEST_S3_SECRET", s3Secret)
	mustRun(t, 75, "--config", cfg, "backup", "list", "--repo", "offsite")
}

// stallingProxy forwards to the S3 server but holds every UploadPart
// request until its client gives up, so that a run can be caught in the
// middle of a multipart upload without sleeping.
type stallingProxy struct {
	url   string
	parts chan struct{}
}

func newStallingProxy(t *testing.T, target string) *stallingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &stallingProxy{parts: make(chan struct{}, 64)}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
			select {
			case p.parts <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			http.Error(w, "stalled", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	p.url = srv.URL
	return p
}

// waitPart waits until an upload part is stalled.
func (p *stallingProxy) waitPart(t *testing.T) {
	t.Helper()
	select {
	case <-p.parts:
	case <-time.After(2 * time.Minute):
		t.Fatal("no upload part reached the proxy")
	}
}

// stallFixture is a bucket reached directly and through a stalling proxy,
// and a directory big enough for a multipart upload (incompressible).
func stallFixture(t *testing.T) (srv *testenv.S3Server, bucket, cfg, data string, proxy *stallingProxy) {
	t.Helper()
	dir := isolate(t)
	srv = testenv.S3(t)
	bucket = srv.NewBucket(t)
	proxy = newStallingProxy(t, srv.Endpoint())
	data = filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 24<<20)
	_, _ = rand.Read(big)
	if err := os.WriteFile(filepath.Join(data, "big.bin"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, recipient := keygen(t, dir, "id.txt")
	t.Setenv("TEST_S3_KEY", srv.AccessKey())
	t.Setenv("TEST_S3_SECRET", srv.SecretKey())
	repoYAML := func(name, endpoint string) string {
		return fmt.Sprintf(`    %s:
      url: s3://%s/prod
      endpoint: %s
      region: %s
      path_style: true
      access_key_id: env:TEST_S3_KEY
      secret_access_key: env:TEST_S3_SECRET
`, name, bucket, endpoint, srv.Region())
	}
	cfg = writeConfig(t, dir, fmt.Sprintf("backup:\n  recipients: [%s]\n  repositories:\n%s%s", recipient,
		repoYAML("direct", srv.Endpoint()), repoYAML("stalled", proxy.url)))
	return srv, bucket, cfg, data, proxy
}

// assertNothingComplete: after an interrupted run the bucket holds no
// object of the backup (no manifest, no data, no lock) and no open
// multipart upload, and list shows nothing.
func assertNothingComplete(t *testing.T, srv *testenv.S3Server, bucket, cfg string) {
	t.Helper()
	keys, uploads := s3Objects(t, srv, bucket, "prod/")
	if len(keys) != 0 || len(uploads) != 0 {
		t.Errorf("left behind: objects %v, multipart uploads %v", keys, uploads)
	}
	r := mustRun(t, 0, "--config", cfg, "backup", "list", "--repo", "direct", "-o", "json")
	if !strings.Contains(r.out, `"backups": []`) {
		t.Errorf("list after an interrupted run: %s", r.out)
	}
}

// TestBackupLockedThenInterrupted: while one run of a source is uploading,
// a second run of the same source exits 11 naming the first (host, pid,
// start); the first, cancelled as by SIGINT, exits 130 and leaves nothing
// that looks complete, its multipart upload aborted.
func TestBackupLockedThenInterrupted(t *testing.T) {
	srv, bucket, cfg, data, proxy := stallFixture(t)
	args := []string{"--config", cfg, "backup", "run", "--source", "dir://" + data, "--name", "files"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan run, 1)
	go func() { first <- runArgs(ctx, append(args, "--repo", "stalled")...) }()
	proxy.waitPart(t)

	second := mustRun(t, 11, append(args, "--repo", "direct")...)
	host, _ := os.Hostname()
	want := fmt.Sprintf(`source "files" is locked by another run: backup on host %s \(pid %d\) since \d{4}-\d\d-\d\dT`, regexp.QuoteMeta(host), os.Getpid())
	if !regexp.MustCompile(want).MatchString(second.errOut) || !strings.Contains(second.errOut, `"exit_code":11`) {
		t.Errorf("second run: %s\nwant %s", second.errOut, want)
	}

	cancel()
	var r run
	select {
	case r = <-first:
	case <-time.After(2 * time.Minute):
		t.Fatal("the cancelled run did not end")
	}
	if r.code != 130 || !strings.Contains(r.errOut, "interrupted") || !strings.Contains(r.errOut, `"exit_code":130`) {
		t.Errorf("cancelled run: exit %d\n%s", r.code, r.errOut)
	}
	assertNothingComplete(t, srv, bucket, cfg)
}

// TestBackupSIGTERM sends SIGTERM to a repairxctl process in the middle of
// its upload: exit 130, the upload aborted, nothing complete-looking left.
func TestBackupSIGTERM(t *testing.T) {
	srv, bucket, cfg, data, proxy := stallFixture(t)
	cmd := exec.Command("repairxctl", "--config", cfg, "backup", "run", "--source", "dir://"+data, "--name", "files", "--repo", "stalled")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proxy.waitPart(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"exit_code":130`) || !strings.Contains(stderr.String(), "Error: interrupted") {
		t.Errorf("stderr: %s", stderr.String())
	}
	assertNothingComplete(t, srv, bucket, cfg)
}

// TestBackupDamagedObject: a flipped byte in a stored backup is exit 12 for
// verify and restore, and nothing is restored; a truncated one is listed as
// damaged.
func TestBackupDamagedObject(t *testing.T) {
	dir := isolate(t)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "a.txt"), bytes.Repeat([]byte("repairx "), 100000), 0o600); err != nil {
		t.Fatal(err)
	}
	idFile, recipient := keygen(t, dir, "id.txt")
	repoURL := "file://" + filepath.Join(dir, "repo")
	r := mustRun(t, 0, "backup", "run", "--source", "dir://"+data, "--repo", repoURL, "--recipient", recipient, "-o", "json")
	var res backupRunResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "repo", "data", res.ID, "data.zst.age")
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(obj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, 12, "backup", "verify", "latest", "--repo", repoURL, "--identity", idFile)
	if !strings.Contains(r.errOut, "integrity check failed") {
		t.Errorf("flipped byte: %s", r.errOut)
	}
	out := filepath.Join(dir, "restored")
	mustRun(t, 12, "backup", "restore", "latest", "--repo", repoURL, "--identity", idFile, "--to-dir", out)
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed restore left %s (%v)", out, err)
	}
	if err := os.WriteFile(obj, b[:len(b)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, 0, "backup", "list", "--repo", repoURL, "-o", "json")
	if !strings.Contains(r.out, `"state": "damaged"`) || !strings.Contains(r.out, `"damaged": 1`) {
		t.Errorf("truncated backup listed as %s", r.out)
	}
	mustRun(t, 12, "backup", "verify", res.ID, "--repo", repoURL, "--identity", idFile)
}

// TestBackupS3FromFlagsAlone: a cron line with no config file reaches an
// S3-compatible server through the repository URL's query (endpoint,
// path_style, region, storage_class) and the AWS credential chain's
// environment; the backup lands in the bucket and restores.
func TestBackupS3FromFlagsAlone(t *testing.T) {
	dir := isolate(t)
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey())
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey())
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-aws-credentials"))
	src := filepath.Join(dir, "uploads")
	if err := os.MkdirAll(filepath.Join(src, "2026"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "2026", "invoice.pdf"), []byte("%PDF-1.7 not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	idFile, recipient := keygen(t, dir, "id.txt")
	repoURL := fmt.Sprintf("s3://%s/adhoc?endpoint=%s&path_style=true&region=%s&storage_class=STANDARD", bucket, url.QueryEscape(srv.Endpoint()), srv.Region())

	r := mustRun(t, 0, "backup", "run", "--source", "dir://"+src, "--repo", repoURL, "--recipient", recipient, "-o", "json")
	var res backupRunResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Repository != "s3://"+bucket+"/adhoc" {
		t.Errorf("repository = %q: the query belongs to the settings, not the name", res.Repository)
	}
	keys, _ := s3Objects(t, srv, bucket, "adhoc/")
	if len(keys) != 2 {
		t.Fatalf("bucket holds %v, want the data and the manifest", keys)
	}
	out := filepath.Join(dir, "restored")
	mustRun(t, 0, "backup", "restore", "latest", "--repo", repoURL, "--identity", idFile, "--to-dir", out)
	if b, err := os.ReadFile(filepath.Join(out, "2026", "invoice.pdf")); err != nil || string(b) != "%PDF-1.7 not really" {
		t.Errorf("restored file = %q, %v", b, err)
	}

	// Settings that cannot be right are usage errors naming the setting.
	for query, want := range map[string]string{
		"?endpoint=ftp://x":                 "endpoint must be http(s)",
		"?path_style=maybe":                 "path_style",
		"?sse=rot13":                        "sse=",
		"?secret_access_key=x":              "unknown setting",
		"?region=a&region=b":                "given 2 times",
		"?sse_kms_key_id=k":                 "needs sse=aws:kms",
		"?endpoint=https://u:p@s3.example/": "without credentials",
	} {
		r := mustRun(t, 2, "backup", "list", "--repo", "s3://"+bucket+"/adhoc"+query)
		if !strings.Contains(r.errOut, want) || strings.Contains(query, "u:p") && strings.Contains(r.errOut, "u:p") {
			t.Errorf("%s: stderr %q, want %q (and no credentials)", query, r.errOut, want)
		}
	}
	if r := mustRun(t, 2, "backup", "list", "--repo", "file://"+dir+"?x=1"); !strings.Contains(r.errOut, "query") {
		t.Errorf("a query on a file:// repository: %q", r.errOut)
	}
}
