package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// installHint tells a developer how to get the servers; `make test` runs
// scripts/install-test-deps.sh before the tests.
const installHint = "run `make test`, which installs test dependencies (scripts/install-test-deps.sh)"

// mainActive records that Main runs the tests, so shared servers get stopped.
var mainActive atomic.Bool

// shared holds the servers one test binary shares among its tests. It is
// package state because the test binary, not a test, owns these servers.
var shared struct {
	postgres     lazy[*PostgresServer]
	redis        lazy[*RedisServer]
	s3           lazy[*S3Server]
	alertmanager lazy[*AlertmanagerServer]
}

// Main runs the package's tests and then stops the servers they started. A
// package using testenv calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	mainActive.Store(true)
	// Ctrl-C reaches the test binary but not the servers (own process groups):
	// stop them cleanly and remove their directories, then die of the signal as
	// the binary would have. A signal ignored from the start (a background job
	// of a script ignores SIGINT) stays ignored.
	var caught []os.Signal
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM} {
		if !signal.Ignored(sig) {
			caught = append(caught, sig)
		}
	}
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	if len(caught) > 0 {
		signal.Notify(sigs, caught...)
		go func() {
			select {
			case sig := <-sigs:
				shutdown()
				signal.Reset(sig)
				_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
			case <-done:
			}
		}()
	}
	code := m.Run()
	signal.Stop(sigs)
	close(done)
	shutdown()
	return code
}

// lazy starts a shared server once; a failed start is remembered so later
// tests fail at once instead of each waiting for the same failure.
type lazy[T any] struct {
	mu      sync.Mutex
	started bool
	val     T
	err     error
}

func (l *lazy[T]) get(start func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.val, l.err = start()
		l.started = true
	}
	return l.val, l.err
}

// requireMain fails a test that asks for a shared server without Main, which
// would leave the server running until the test binary exits.
func requireMain(t testing.TB) {
	t.Helper()
	if !mainActive.Load() {
		t.Fatal("testenv: shared servers are stopped by testenv.Main; add to the package's tests: " +
			"func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }")
	}
}

// startContext bounds a start. Not the test's context: a shared server outlives
// the test that starts it.
func startContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), startTimeout)
}

// missing ends a test whose server or tool WHAT is not installed: a skip, so a
// plain `go test ./...` works on any machine, unless ci (the value of $CI) is
// true, where a skip would hide that the tests never ran.
func missing(t testing.TB, ci, what string) {
	t.Helper()
	msg := what + " not installed: " + installHint
	if failOnMissing(ci) {
		t.Fatal(msg + " (CI=" + ci + ": missing test dependencies fail instead of skipping)")
		return
	}
	t.Skip(msg)
}

// failOnMissing reports whether $CI asks for a failure. CI services set CI=true;
// anything strconv.ParseBool accepts as true counts.
func failOnMissing(ci string) bool {
	v, err := strconv.ParseBool(ci)
	return err == nil && v
}

// lookTool finds an executable on PATH, or ends the test as missing.
func lookTool(t testing.TB, name, what string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, os.Getenv("CI"), what)
		return ""
	}
	return path
}

// Promtool returns the path of Prometheus' promtool, for tests that compare
// their verdicts with the real tool's.
func Promtool(t testing.TB) string {
	t.Helper()
	return lookTool(t, "promtool", "promtool (package prometheus)")
}

// Amtool returns the path of Alertmanager's amtool, for tests that compare
// their verdicts with the real tool's.
func Amtool(t testing.TB) string {
	t.Helper()
	return lookTool(t, "amtool", "amtool (package prometheus-alertmanager)")
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// goBinDirs lists where `go install` puts binaries, without running go: tests
// must not depend on a toolchain being on PATH.
func goBinDirs() []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

// uniqueName derives a name for a test's database or bucket from the test's
// name, readable when debugging, plus a random suffix since names of subtests
// and of repeated runs (-count) collide. Only a-z, 0-9 and sep appear in it.
func uniqueName(t testing.TB, sep byte, maxLen int) string {
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	tail := string(sep) + hex.EncodeToString(suffix[:])
	var b strings.Builder
	b.WriteByte('t')
	b.WriteByte(sep)
	lastSep := true
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastSep = false
		} else if !lastSep {
			b.WriteByte(sep)
			lastSep = true
		}
	}
	name := strings.TrimRight(b.String(), string(sep))
	if len(name) > maxLen-len(tail) {
		name = strings.TrimRight(name[:maxLen-len(tail)], string(sep))
	}
	return name + tail
}

// randomHex returns n random bytes hex-encoded, for credentials of throwaway
// servers.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logStart reports a start with its duration, which tells a slow suite's
// reader where the time went.
func logStart(t testing.TB, what, addr string, began time.Time) {
	t.Helper()
	t.Logf("testenv: %s ready at %s in %s", what, addr, time.Since(began).Round(time.Millisecond))
}
