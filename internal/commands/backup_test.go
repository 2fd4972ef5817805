package commands

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// TestBackupCommandFlags checks flag and argument parsing alone: every run
// function is replaced.
func TestBackupCommandFlags(t *testing.T) {
	const rec = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	tests := []struct {
		args  string
		code  int
		check func(*testing.T, any)
	}{
		{"run --source main --recipient " + rec + " --recipient " + rec, 0, func(t *testing.T, o any) {
			r := o.(*BackupRunOptions)
			if r.Source != "main" || len(r.Recipients) != 2 || r.Unencrypted || r.OpenRepo == nil || r.Now == nil {
				t.Errorf("parsed %+v", r)
			}
		}},
		{"run --source postgres://backup@db/app --format directory --jobs 4 --name app2", 0, func(t *testing.T, o any) {
			r := o.(*BackupRunOptions)
			if r.Format != "directory" || r.Jobs != 4 || r.Name != "app2" {
				t.Errorf("parsed %+v", r)
			}
		}},
		{"run", exitcode.Usage, nil},
		{"run --source main --format tar", exitcode.Usage, nil},
		{"run --source main --unencrypted --recipient " + rec, exitcode.Usage, nil},
		{"run --source main --identity id.txt", exitcode.Usage, nil},
		{"run --source main extra", exitcode.Usage, nil},
		{"list --source main", 0, func(t *testing.T, o any) {
			if o.(*BackupListOptions).Source != "main" {
				t.Errorf("parsed %+v", o)
			}
		}},
		{"list --source ../etc", exitcode.Usage, nil},
		{"verify latest --identity id.txt --source main", 0, func(t *testing.T, o any) {
			v := o.(*BackupVerifyOptions)
			if v.Ref != "latest" || v.IdentityFile != "id.txt" || v.Source != "main" || v.RestoreTest {
				t.Errorf("parsed %+v", v)
			}
		}},
		{"verify main/20261123T020000Z-k3fa2b --restore-test --scratch-db scratch", 0, func(t *testing.T, o any) {
			v := o.(*BackupVerifyOptions)
			if v.Ref != "main/20261123T020000Z-k3fa2b" || !v.RestoreTest || v.ScratchDB != "scratch" {
				t.Errorf("parsed %+v", v)
			}
		}},
		{"verify 2026-11-23", 0, nil},
		{"verify", exitcode.Usage, nil},
		{"verify soon", exitcode.Usage, nil},
		{"verify latest --scratch-db x", exitcode.Usage, nil},
		{"restore latest --to-db scratch --force --no-owner --jobs 2", 0, func(t *testing.T, o any) {
			r := o.(*BackupRestoreOptions)
			if r.Ref != "latest" || r.ToDB != "scratch" || !r.Force || !r.NoOwner || r.Jobs != 2 {
				t.Errorf("parsed %+v", r)
			}
		}},
		{"restore --at 2026-11-23T06:00:00Z --to-file x", 0, func(t *testing.T, o any) {
			if r := o.(*BackupRestoreOptions); r.At == "" || r.Ref != "" || r.ToFile != "x" {
				t.Errorf("parsed %+v", r)
			}
		}},
		{"restore latest", exitcode.Usage, nil},
		{"restore --to-dir x", exitcode.Usage, nil},
		{"restore latest --at 2026-11-23 --to-dir x", exitcode.Usage, nil},
		{"restore --at tomorrow --to-dir x", exitcode.Usage, nil},
		{"restore latest --to-dir x --to-file y", exitcode.Usage, nil},
		{"prune", 0, func(t *testing.T, o any) {
			if p := o.(*BackupPruneOptions); p.Policy != nil || p.DryRun {
				t.Errorf("no --keep flag must leave the configured policy: %+v", p)
			}
		}},
		{"prune -n --keep-daily 7 --keep-monthly 12", 0, func(t *testing.T, o any) {
			p := o.(*BackupPruneOptions)
			if p.Policy == nil || p.Policy.KeepDaily != 7 || p.Policy.KeepMonthly != 12 || p.Policy.KeepDays != 0 || !p.DryRun {
				t.Errorf("parsed %+v", p)
			}
		}},
		{"prune --keep-weekly -2", exitcode.Usage, nil},
		{"keygen --out k.txt --force", 0, func(t *testing.T, o any) {
			if k := o.(*BackupKeygenOptions); k.Out != "k.txt" || !k.Force {
				t.Errorf("parsed %+v", k)
			}
		}},
		{"keygen", exitcode.Usage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := ui.Test()
			f := NewFactory(ios)
			var got any
			cmd := groupCmd("backup", "test", "")
			cmd.AddCommand(
				newBackupRunCmd(f, func(o *BackupRunOptions) error { got = o; return nil }),
				newBackupListCmd(f, func(o *BackupListOptions) error { got = o; return nil }),
				newBackupVerifyCmd(f, func(o *BackupVerifyOptions) error { got = o; return nil }),
				newBackupRestoreCmd(f, func(o *BackupRestoreOptions) error { got = o; return nil }),
				newBackupPruneCmd(f, func(o *BackupPruneOptions) error { got = o; return nil }),
				newBackupKeygenCmd(f, func(o *BackupKeygenOptions) error { got = o; return nil }),
			)
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if code := cliCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if (got != nil) != (tt.code == 0) {
				t.Errorf("ran = %v", got != nil)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// TestBackupTextfile: one file holds every source; a failure keeps the
// source's last success and size; the file is replaced whole (0644, no
// temporary file left) and is valid exposition format.
func TestBackupTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "repairxctl_backup.prom")
	t0 := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	steps := []backupRunMetrics{
		{Source: "main", OK: true, Finished: t0.Add(90 * time.Second), Duration: 90 * time.Second, Size: 123456789},
		{Source: "embedded", OK: true, Finished: t0.Add(2 * time.Second), Duration: 1500 * time.Millisecond, Size: 4096},
		{Source: "main", OK: false, Finished: t0.Add(24*time.Hour + 40*time.Second), Duration: 40 * time.Second},
	}
	for _, m := range steps {
		if err := writeBackupTextfile(path, m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by repairxctl backup run; replaced on every run. Do not edit.
# HELP repairx_backup_last_success_timestamp_seconds Unix time the last successful backup of the source finished.
# TYPE repairx_backup_last_success_timestamp_seconds gauge
repairx_backup_last_success_timestamp_seconds{source="embedded"} 1795399202
repairx_backup_last_success_timestamp_seconds{source="main"} 1795399290
# HELP repairx_backup_last_run_timestamp_seconds Unix time the last backup run of the source ended, successful or not.
# TYPE repairx_backup_last_run_timestamp_seconds gauge
repairx_backup_last_run_timestamp_seconds{source="embedded"} 1795399202
repairx_backup_last_run_timestamp_seconds{source="main"} 1795485640
# HELP repairx_backup_duration_seconds Duration of the last backup run of the source.
# TYPE repairx_backup_duration_seconds gauge
repairx_backup_duration_seconds{source="embedded"} 1.5
repairx_backup_duration_seconds{source="main"} 40
# HELP repairx_backup_size_bytes Stored (compressed, encrypted) size of the last successful backup of the source.
# TYPE repairx_backup_size_bytes gauge
repairx_backup_size_bytes{source="embedded"} 4096
repairx_backup_size_bytes{source="main"} 123456789
# HELP repairx_backup_result Result of the last backup run of the source: 1 success, 0 failure.
# TYPE repairx_backup_result gauge
repairx_backup_result{source="embedded"} 1
repairx_backup_result{source="main"} 0
`
	if string(got) != want {
		t.Errorf("textfile:\n%s\nwant:\n%s", got, want)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644 so node_exporter can read it", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if err := writeBackupTextfile(filepath.Join(dir, "missing", "x.prom"), steps[0]); err == nil {
		t.Error("a missing directory must be an error")
	}
}

// TestBackupPushgateway: a success replaces the source's group (PUT), a
// failure only the metrics it sets (POST), keeping the last success. The
// server is an httptest stand-in for a Pushgateway.
func TestBackupPushgateway(t *testing.T) {
	type push struct{ method, path, body string }
	var mu sync.Mutex
	var pushes []push
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushes = append(pushes, push{r.Method, r.URL.Path, string(b)})
		mu.Unlock()
		if strings.Contains(r.URL.Path, "broken") {
			http.Error(w, "pushed metrics are invalid", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t0 := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	if err := pushBackupMetrics(t.Context(), srv.Client(), srv.URL+"/", backupRunMetrics{Source: "main", OK: true, Finished: t0, Duration: 3 * time.Second, Size: 42}); err != nil {
		t.Fatal(err)
	}
	if err := pushBackupMetrics(t.Context(), srv.Client(), srv.URL, backupRunMetrics{Source: "main", Finished: t0, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	err := pushBackupMetrics(t.Context(), srv.Client(), srv.URL, backupRunMetrics{Source: "broken", Finished: t0})
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: pushed metrics are invalid") {
		t.Errorf("a refused push: %v", err)
	}
	if len(pushes) != 3 {
		t.Fatalf("pushes: %+v", pushes)
	}
	ok, failed := pushes[0], pushes[1]
	if ok.method != http.MethodPut || ok.path != "/metrics/job/repairxctl_backup/source/main" {
		t.Errorf("success pushed as %s %s", ok.method, ok.path)
	}
	for _, line := range []string{"repairx_backup_last_success_timestamp_seconds 1795399200\n", "repairx_backup_size_bytes 42\n",
		"repairx_backup_result 1\n", "repairx_backup_duration_seconds 3\n", "# TYPE repairx_backup_result gauge\n"} {
		if !strings.Contains(ok.body, line) {
			t.Errorf("success body lacks %q:\n%s", line, ok.body)
		}
	}
	if strings.Contains(ok.body, "source=") {
		t.Errorf("the grouping key carries the source; the body must not: %s", ok.body)
	}
	if failed.method != http.MethodPost || !strings.Contains(failed.body, "repairx_backup_result 0\n") ||
		strings.Contains(failed.body, "last_success") || strings.Contains(failed.body, "size_bytes") {
		t.Errorf("failure pushed as %s:\n%s", failed.method, failed.body)
	}
}

// TestBackupNotifySlack posts to an httptest stand-in for Slack's webhook
// (none can be reached from here): JSON with the failure in "text", mrkdwn
// escaped, and the webhook's secret path never in an error.
func TestBackupNotifySlack(t *testing.T) {
	var got map[string]string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/services/T0/B0/s3cr3tT0k3n" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	rec := failedRecord()
	if err := notifySlack(t.Context(), srv.Client(), srv.URL+"/services/T0/B0/s3cr3tT0k3n", rec); err != nil {
		t.Fatal(err)
	}
	text := got["text"]
	for _, want := range []string{"repairxctl backup of main failed on backup-1", "exit status 75, tempfail",
		"put prod/main: repository unavailable: dial tcp 127.0.0.1:1: connect: connection refused &lt;x&gt;", "Repository: offsite"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	err := notifySlack(t.Context(), srv.Client(), srv.URL+"/services/T0/B0/wrong-s3cr3t", rec)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "400") {
		t.Errorf("a refused post: %v", err)
	}
	if err := notifySlack(t.Context(), srv.Client(), "http://hooks.slack.test/services/x", rec); err == nil || strings.Contains(err.Error(), "services/x") {
		t.Errorf("a plain-HTTP webhook must be refused without showing it: %v", err)
	}
}

// TestBackupNotifyEmail sends through fakeSMTP, a stand-in for a mail
// server (no real one can run here), over STARTTLS with AUTH PLAIN; a
// server without STARTTLS gets neither the password nor the message.
func TestBackupNotifyEmail(t *testing.T) {
	srv := startFakeSMTP(t, true)
	e := config.BackupEmail{SMTPAddr: srv.addr, From: "Backups <backup@example.test>", To: []string{"ops@example.test", "dba@example.test"}, Username: "backup"}
	if err := notifyEmail(t.Context(), e, "smtp-pw", srv.pool(), failedRecord()); err != nil {
		t.Fatal(err)
	}
	m := srv.next(t)
	if !m.tls || m.auth != "\x00backup\x00smtp-pw" || m.from != "backup@example.test" || strings.Join(m.to, ",") != "ops@example.test,dba@example.test" {
		t.Errorf("mail %+v", m)
	}
	head, qpBody, _ := strings.Cut(m.data, "\n\n")
	body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(qpBody)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: repairxctl backup of main failed on backup-1\n", "To: ops@example.test, dba@example.test\n",
		"Content-Type: text/plain; charset=utf-8\n"} {
		if !strings.Contains(head+"\n", want) {
			t.Errorf("headers lack %q:\n%s", want, head)
		}
	}
	for _, want := range []string{"exit status 75, tempfail", "Error: put prod/main: repository unavailable: dial tcp 127.0.0.1:1: connect: connection refused <x>\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	plain := startFakeSMTP(t, false)
	e.SMTPAddr = plain.addr
	err = notifyEmail(t.Context(), e, "smtp-pw", plain.pool(), failedRecord())
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Errorf("no STARTTLS: %v", err)
	}
	if n := plain.count(); n != 0 {
		t.Errorf("%d messages sent in the clear", n)
	}
	// A certificate the client does not trust.
	e.SMTPAddr = srv.addr
	if err := notifyEmail(t.Context(), e, "smtp-pw", x509.NewCertPool(), failedRecord()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func failedRecord() *backupRunRecord {
	return &backupRunRecord{Result: "failed", ExitCode: exitcode.TempFail, Host: "backup-1", Source: "main", Repository: "offsite",
		StartedAt: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), DurationSeconds: 35.2,
		Error: "put prod/main: repository unavailable: dial tcp 127.0.0.1:1: connect: connection refused <x>", EncryptedTo: []string{}, Warnings: []string{}}
}

// fakeSMTP is a stand-in for a mail server, since none can run here: it
// speaks the ESMTP that net/smtp needs (EHLO, STARTTLS, AUTH PLAIN, MAIL,
// RCPT, DATA, QUIT) on 127.0.0.1 with a self-signed certificate, and
// records the messages.
type fakeSMTP struct {
	addr     string
	certPEM  []byte
	tls      *tls.Config
	startTLS bool
	received chan fakeMail
}

type fakeMail struct {
	from string
	to   []string
	data string
	auth string
	tls  bool
}

func startFakeSMTP(t *testing.T, startTLS bool) *fakeSMTP {
	t.Helper()
	certPEM, cert := selfSignedCert(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSMTP{addr: l.Addr().String(), certPEM: certPEM, startTLS: startTLS, received: make(chan fakeMail, 10),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}}}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *fakeSMTP) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.certPEM)
	return p
}

func (s *fakeSMTP) count() int { return len(s.received) }

// next waits for a message, with a deadline.
func (s *fakeSMTP) next(t *testing.T) fakeMail {
	t.Helper()
	select {
	case m := <-s.received:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no mail arrived")
		return fakeMail{}
	}
}

func (s *fakeSMTP) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 fake.test ESMTP stand-in for tests")
	var m fakeMail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			_ = tp.PrintfLine("500 empty")
			continue
		}
		arg := func(prefix string) string {
			v := strings.TrimSpace(line[len(prefix):])
			return strings.Trim(v, "<>")
		}
		switch strings.ToUpper(fields[0]) {
		case "EHLO", "HELO":
			exts := []string{"fake.test"}
			if s.startTLS && !m.tls {
				exts = append(exts, "STARTTLS")
			}
			if m.tls {
				exts = append(exts, "AUTH PLAIN")
			}
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, e)
			}
		case "STARTTLS":
			if !s.startTLS {
				_ = tp.PrintfLine("502 not offered")
				continue
			}
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, m.tls = tc, textproto.NewConn(tc), true
		case "AUTH":
			if !m.tls || len(fields) < 3 {
				_ = tp.PrintfLine("538 encryption required")
				continue
			}
			b, _ := base64.StdEncoding.DecodeString(fields[2])
			m.auth = string(b)
			_ = tp.PrintfLine("235 authenticated")
		case "MAIL":
			m.from = arg("MAIL FROM:")
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			m.to = append(m.to, arg("RCPT TO:"))
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 end with .")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = string(data)
			s.received <- m
			_ = tp.PrintfLine("250 queued")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 unknown")
		}
	}
}

// selfSignedCert makes a certificate for 127.0.0.1, its own CA.
func selfSignedCert(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, cert
}

// TestBackupRecordSchema: the log line's fields, as docs/backup.md lists
// them, in order.
func TestBackupRecordSchema(t *testing.T) {
	var b bytes.Buffer
	if err := ui.WriteNDJSON(&b, failedRecord()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(bufio.NewReader(&b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	want := "time level msg result exit_code host source repository started_at duration_seconds plaintext_size stored_size encrypted_to warnings error"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("record fields:\n%s\nwant\n%s", got, want)
	}
}

// TestBackupTerminalOutput: on a terminal, a progress bar and a summary
// line instead of the JSON log line, and tables with headers, relative
// times and shortened keys; piped, none of that.
func TestBackupTerminalOutput(t *testing.T) {
	dir := isolate(t)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("alpha"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, recipient := keygen(t, dir, "id.txt")
	repoURL := "file://" + filepath.Join(dir, "repo")
	term := func(args ...string) run {
		t.Helper()
		ios, _, out, errOut := ui.Test()
		ios.SetTTY(false, true, true)
		ios.SetWidth(200)
		code := Run(t.Context(), append(args, "--no-color"), NewFactory(ios))
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return run{code, out.String(), errOut.String()}
	}
	r := term("backup", "run", "--source", "dir://"+data, "--repo", repoURL, "--recipient", recipient)
	if !strings.Contains(r.errOut, "backing up") || !strings.Contains(r.errOut, "\r\x1b[2K") || !strings.Contains(r.errOut, "✓ backed up data to file://") {
		t.Errorf("terminal stderr: %q", r.errOut)
	}
	if strings.Contains(r.errOut, `"level"`) {
		t.Errorf("JSON log line on a terminal: %q", r.errOut)
	}
	if !strings.Contains(r.out, "ENCRYPTED TO") || !strings.Contains(r.out, recipient[:12]+"…") || strings.Contains(r.out, "\t") {
		t.Errorf("terminal result: %q", r.out)
	}
	r = term("backup", "list", "--repo", repoURL)
	if !strings.Contains(r.out, "VERIFIED") || !strings.Contains(r.out, "just now") || !strings.Contains(r.out, "complete") {
		t.Errorf("terminal list: %q", r.out)
	}
	piped := mustRun(t, 0, "backup", "run", "--source", "dir://"+data, "--repo", repoURL, "--recipient", recipient)
	if strings.Contains(piped.errOut, "backing up") || strings.Contains(piped.errOut, "\x1b") || !strings.HasPrefix(piped.errOut, `{"time":`) {
		t.Errorf("piped stderr: %q", piped.errOut)
	}
}
