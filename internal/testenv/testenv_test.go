package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// pdeathsigHelperEnv makes the test binary act as a test binary that gets
// killed while its server runs (TestServerDiesWithTestBinary).
const pdeathsigHelperEnv = "TESTENV_PDEATHSIG_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(pdeathsigHelperEnv) != "" {
		pdeathsigHelper()
		return
	}
	os.Exit(Main(m))
}

// recordingTB records how a test would end instead of ending it.
type recordingTB struct {
	testing.TB // nil: calling anything not overridden panics
	skipped    bool
	failed     bool
	msg        string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) { r.skipped, r.msg = true, fmt.Sprint(args...) }

func (r *recordingTB) Fatal(args ...any) { r.failed, r.msg = true, fmt.Sprint(args...) }

func TestMissingSkipsUnlessCI(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{
		{ci: "", wantFail: false},
		{ci: "false", wantFail: false},
		{ci: "0", wantFail: false},
		{ci: "woodpecker", wantFail: false}, // not a boolean: a developer's own variable
		{ci: "true", wantFail: true},
		{ci: "TRUE", wantFail: true},
		{ci: "1", wantFail: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			r := &recordingTB{}
			missing(r, tc.ci, "redis-server")
			if r.failed != tc.wantFail || r.skipped == tc.wantFail {
				t.Fatalf("failed=%v skipped=%v, want failed=%v skipped=%v", r.failed, r.skipped, tc.wantFail, !tc.wantFail)
			}
			for _, want := range []string{"redis-server not installed", "`make test`", "scripts/install-test-deps.sh"} {
				if !strings.Contains(r.msg, want) {
					t.Errorf("message %q lacks %q", r.msg, want)
				}
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`) // an S3 bucket name
	a, b := uniqueName(t, '-', 63), uniqueName(t, '-', 63)
	if a == b {
		t.Errorf("two names for one test are both %q", a)
	}
	if !strings.HasPrefix(a, "t-testuniquename-") {
		t.Errorf("name %q does not name the test", a)
	}
	t.Run(strings.Repeat("Very Long/Sub_Test;", 10), func(t *testing.T) {
		name := uniqueName(t, '-', 63)
		if !valid.MatchString(name) {
			t.Errorf("name %q is not a valid bucket name", name)
		}
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := Postgres(t)
	if !strings.HasPrefix(pg.Version(), "15.") {
		t.Errorf("Version() = %q, want 15.x", pg.Version())
	}
	if !isExecutable(filepath.Join(pg.BinDir(), "pg_dump")) {
		t.Errorf("no pg_dump in BinDir() %s", pg.BinDir())
	}
	ctx := t.Context()
	dbURL := pg.NewDatabase(t)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE repair (id int PRIMARY KEY, device text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO repair VALUES ($1, $2)`, 7, "phone"); err != nil {
		t.Fatal(err)
	}
	var device, database string
	if err := conn.QueryRow(ctx, `SELECT device, current_database() FROM repair WHERE id = $1`, 7).Scan(&device, &database); err != nil {
		t.Fatal(err)
	}
	if device != "phone" {
		t.Errorf("device = %q, want phone", device)
	}
	if !strings.HasPrefix(database, "t_testpostgres_") {
		t.Errorf("connected to database %q, want the test's own", database)
	}

	// The next test's database starts empty.
	other, err := pgx.Connect(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	var tables int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'repair'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("a new database has %d tables named repair, want 0", tables)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	r := Redis(t)
	if want := "redis://" + r.Addr() + "/3"; r.URL(3) != want {
		t.Errorf("URL(3) = %q, want %q", r.URL(3), want)
	}
	db, otherDB := r.NewDB(t), r.NewDB(t)
	if db == otherDB || db < 0 || db >= 16 || otherDB < 0 || otherDB >= 16 {
		t.Fatalf("NewDB gave %d and %d, want two distinct numbers in 0..15", db, otherDB)
	}
	ctx := t.Context()
	if _, err := redisDo(ctx, r.Addr(), []string{"SELECT", strconv.Itoa(db)}, []string{"SET", "repair:1", "screen"}); err != nil {
		t.Fatal(err)
	}
	got, err := redisDo(ctx, r.Addr(), []string{"SELECT", strconv.Itoa(db)}, []string{"GET", "repair:1"})
	if err != nil || got != "screen" {
		t.Errorf("GET repair:1 = %q, %v; want screen", got, err)
	}
	got, err = redisDo(ctx, r.Addr(), []string{"SELECT", strconv.Itoa(otherDB)}, []string{"GET", "repair:1"})
	if !errors.Is(err, errRedisNil) {
		t.Errorf("GET repair:1 in another test's database = %q, %v; want nil", got, err)
	}
}

func TestS3(t *testing.T) {
	t.Parallel()
	srv := S3(t)
	if srv.Region() != "us-east-1" || srv.AccessKey() == "" || srv.SecretKey() == "" {
		t.Errorf("Region %q, AccessKey %q, SecretKey set %v", srv.Region(), srv.AccessKey(), srv.SecretKey() != "")
	}
	ctx := t.Context()
	bucket := srv.NewBucket(t)
	want := bytes.Repeat([]byte("backup\x00\xff"), 4096)
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("daily/2024-01-01.tar.zst"), Body: bytes.NewReader(want),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("daily/2024-01-01.tar.zst")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %d bytes back, want the %d put", len(got), len(want))
	}
}

func TestPrometheusBackfill(t *testing.T) {
	t.Parallel()
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-2 * time.Hour)
	monthAgo := end.Add(-30 * 24 * time.Hour)
	minutes := func(at time.Time) float64 { return at.Sub(start).Minutes() }
	p := StartPrometheus(t, PrometheusOptions{History: []Series{
		{Metric: "repair_queue_depth", Labels: map[string]string{"shop": "north"}, Samples: Samples(start, end, time.Minute, minutes)},
		{Metric: "repair_queue_depth", Labels: map[string]string{"shop": `so"uth`}, Samples: Samples(start, end, time.Minute, func(time.Time) float64 { return -1.5 })},
		{Metric: "repairs_total", Samples: Samples(start, end, time.Minute, func(at time.Time) float64 { return 60 * minutes(at) })},
		// Beyond Prometheus' default retention of 15 days, counted back from
		// the newest block: kept only because the harness lengthens retention.
		{Metric: "repair_nps", Samples: Samples(monthAgo.Add(-time.Hour), monthAgo, time.Minute, func(time.Time) float64 { return 71 })},
	}})
	ctx := t.Context()
	for _, tc := range []struct {
		query string
		at    time.Time
		want  float64
	}{
		// The oldest sample, in the first block promtool wrote.
		{query: `repair_queue_depth{shop="north"}`, at: start, want: 0},
		{query: `repair_queue_depth{shop="north"}`, at: start.Add(37 * time.Minute), want: 37},
		// Between samples the latest one within the lookback counts.
		{query: `repair_queue_depth{shop="north"}`, at: start.Add(90*time.Minute + 30*time.Second), want: 90},
		{query: `repair_queue_depth{shop="north"}`, at: end, want: 120},
		{query: `repair_queue_depth{shop="so\"uth"}`, at: start.Add(time.Hour), want: -1.5},
		// Prometheus 2 ranges include both ends: 61 samples in an hour of minutes.
		{query: `count_over_time(repair_queue_depth{shop="north"}[1h])`, at: end, want: 61},
		{query: `rate(repairs_total[10m])`, at: start.Add(time.Hour), want: 1},
		{query: `repair_nps`, at: monthAgo, want: 71},
	} {
		got, err := p.Query(ctx, tc.query, tc.at)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if len(got) != 1 || math.Abs(got[0].V-tc.want) > 1e-9 {
			t.Errorf("%s at -%s = %+v, want one series with %v", tc.query, end.Sub(tc.at), got, tc.want)
		}
	}
	got, err := p.Query(ctx, `repair_queue_depth{shop="north"}`, start.Add(-10*time.Minute))
	if err != nil || len(got) != 0 {
		t.Errorf("query before the history = %+v, %v; want no series", got, err)
	}
}

// TestPrometheusScrapesAndAlerts runs the other options end to end: a target is
// scraped, a rule fires on its value, and the alert reaches an Alertmanager.
func TestPrometheusScrapesAndAlerts(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "# TYPE repair_backlog gauge\nrepair_backlog 42")
	}))
	defer target.Close()
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: testenv
    rules:
      - alert: RepairBacklogHigh
        expr: repair_backlog > 40
`), 0o644); err != nil {
		t.Fatal(err)
	}
	am := StartAlertmanager(t, DefaultAlertmanagerConfig)
	p := StartPrometheus(t, PrometheusOptions{
		Targets:       []string{target.Listener.Addr().String()},
		RuleFiles:     []string{rules},
		Alertmanagers: []string{am.URL()},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var scraped []VectorSample
	poll(ctx, t, "target scraped", func() (err error) {
		scraped, err = p.Query(ctx, `repair_backlog{job="testenv"}`, time.Now())
		if err == nil && len(scraped) == 0 {
			err = errors.New("no series yet")
		}
		return err
	})
	if scraped[0].V != 42 {
		t.Errorf("scraped %v, want 42", scraped[0].V)
	}
	poll(ctx, t, "alert reached Alertmanager", func() error {
		alerts, err := getAlerts(ctx, am.URL(), `alertname="RepairBacklogHigh"`)
		if err == nil && len(alerts) == 0 {
			err = errors.New("no alert yet")
		}
		return err
	})
}

// poll calls f until it succeeds or ctx ends.
func poll(ctx context.Context, t *testing.T, what string, f func() error) {
	t.Helper()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (%v)", what, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

func getAlerts(ctx context.Context, base, filter string) ([]alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/alerts?filter="+url.QueryEscape(filter), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET alerts: %s", resp.Status)
	}
	var alerts []alert
	return alerts, json.NewDecoder(resp.Body).Decode(&alerts)
}

func TestAlertmanager(t *testing.T) {
	t.Parallel()
	am := Alertmanager(t)
	test := uniqueName(t, '_', 40) // isolates this test's alerts on the shared server
	sent := []alert{{
		Labels:      map[string]string{"alertname": "BackupMissing", "severity": "critical", "test": test},
		Annotations: map[string]string{"summary": "no backup for 26h"},
		StartsAt:    time.Now().Add(-time.Minute).UTC().Truncate(time.Second),
		EndsAt:      time.Now().Add(time.Hour).UTC().Truncate(time.Second),
	}}
	body, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.URL()+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST alerts: %s", resp.Status)
	}
	got, err := getAlerts(ctx, am.URL(), `test="`+test+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d alerts back, want 1: %+v", len(got), got)
	}
	if got[0].Labels["alertname"] != "BackupMissing" || got[0].Labels["severity"] != "critical" ||
		got[0].Annotations["summary"] != "no backup for 26h" || !got[0].StartsAt.Equal(sent[0].StartsAt) {
		t.Errorf("got back %+v, want %+v", got[0], sent[0])
	}
}

func TestStartAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	am := StartAlertmanager(t, `route:
  receiver: on-call
receivers:
  - name: on-call
`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, am.URL()+"/api/v2/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var status struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status.Config.Original, "receiver: on-call") {
		t.Errorf("running config %q is not the test's", status.Config.Original)
	}
}

func TestTools(t *testing.T) {
	t.Parallel()
	version := regexp.MustCompile(`version \d+\.\d+\.\d+`)
	for name, path := range map[string]string{"promtool": Promtool(t), "amtool": Amtool(t)} {
		out, err := exec.CommandContext(t.Context(), path, "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v\n%s", name, err, out)
			continue
		}
		if !version.Match(out) || !strings.Contains(string(out), name) {
			t.Errorf("%s --version printed %q, want its name and a version", name, out)
		}
	}
}

func TestCloseKillsProcessGroup(t *testing.T) {
	t.Parallel()
	s, err := newServer("group")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// A server with a child of its own, which the polite SIGTERM to the server
	// does not reach.
	childPID := filepath.Join(s.dir, "child.pid")
	s.proc, err = startServer(t.Context(), command{
		name: "sh",
		path: "/bin/sh",
		args: []string{"-c", `sleep 300 & echo $! >child.tmp && mv child.tmp child.pid && wait`},
		dir:  s.dir,
	}, func(context.Context) error {
		_, err := os.Stat(childPID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(childPID)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) }) // should be gone already
	s.close()
	// SIGKILL takes effect asynchronously.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	poll(ctx, t, "the server's child killed by close", func() error {
		if alive(child) {
			return fmt.Errorf("child %d still running", child)
		}
		return nil
	})
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("directory %s after close: %v, want it removed", s.dir, err)
	}
}

// TestServerDiesWithTestBinary kills a test binary that runs a server and
// checks that the kernel kills the server too (Pdeathsig).
func TestServerDiesWithTestBinary(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux-only")
	}
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), pdeathsigHelperEnv+"=1")
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	if _, err := fmt.Fscan(bufio.NewReader(stdout), &pid, &dir); err != nil {
		_ = helper.Process.Kill()
		_ = helper.Wait()
		t.Fatalf("read the helper's server: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })                      // what a killed binary leaves behind
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // should be gone already
	if !alive(pid) {
		t.Fatalf("server %d not running before the kill", pid)
	}
	_ = helper.Process.Kill()
	_ = helper.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	poll(ctx, t, "server killed with the test binary", func() error {
		if alive(pid) {
			return fmt.Errorf("server %d still running", pid)
		}
		return nil
	})
}

// pdeathsigHelper starts a server, reports its pid and directory, and waits to
// be killed.
func pdeathsigHelper() {
	s, err := newServer("pdeathsig")
	if err != nil {
		panic(err)
	}
	s.proc, err = startServer(context.Background(), command{
		name: "sleep", path: "/bin/sleep", args: []string{"300"}, dir: s.dir,
	}, func(context.Context) error { return nil })
	if err != nil {
		panic(err)
	}
	fmt.Println(s.proc.pid, s.dir)
	select {}
}

// alive reports whether pid runs; a zombie waiting for init to reap it does not.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
