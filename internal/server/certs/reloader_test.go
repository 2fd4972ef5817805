package certs

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reloaderFixture is a Reloader on dir/tls.crt and dir/tls.key, serving a,
// with a fake clock, recorded logs and recorded OnReload calls.
type reloaderFixture struct {
	r                 *Reloader
	dir               string
	certFile, keyFile string
	clock             *fakeClock
	logs              *recordingHandler
	a, b              pair

	mu       sync.Mutex
	reloaded []string
}

func newReloaderFixture(t *testing.T) *reloaderFixture {
	t.Helper()
	f := &reloaderFixture{
		dir:   t.TempDir(),
		clock: newFakeClock(testNow),
		logs:  &recordingHandler{},
		a:     newPair(t, testNow),
		b:     newPair(t, testNow),
	}
	f.certFile, f.keyFile = installPair(t, f.dir, f.a)
	r, err := NewReloader(f.certFile, f.keyFile, slog.New(f.logs))
	if err != nil {
		t.Fatal(err)
	}
	r.Clock = f.clock.Now
	r.OnReload = func(fp string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reloaded = append(f.reloaded, fp)
	}
	f.r = r
	return f
}

// served returns the fingerprint GetCertificate hands to a handshake now.
func (f *reloaderFixture) served(t *testing.T) string {
	t.Helper()
	cert, err := f.r.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if cert == nil || cert.Leaf == nil {
		t.Fatal("GetCertificate returned no certificate")
	}
	return Fingerprint(cert.Leaf)
}

func (f *reloaderFixture) reloads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reloaded...)
}

func (f *reloaderFixture) wantServed(t *testing.T, want pair, when string) {
	t.Helper()
	if got := f.served(t); got != want.fingerprint {
		t.Errorf("%s: served %s, want %s", when, got, f.name(want.fingerprint))
	}
	if got := f.r.Fingerprint(); got != want.fingerprint {
		t.Errorf("%s: Fingerprint() = %s, want %s", when, f.name(got), f.name(want.fingerprint))
	}
	if got := Fingerprint(f.r.Current().Leaf); got != want.fingerprint {
		t.Errorf("%s: Current() is %s, want %s", when, f.name(got), f.name(want.fingerprint))
	}
}

func (f *reloaderFixture) name(fp string) string {
	switch fp {
	case f.a.fingerprint:
		return "pair a"
	case f.b.fingerprint:
		return "pair b"
	}
	return fp
}

func (f *reloaderFixture) wantReloads(t *testing.T, want ...string) {
	t.Helper()
	got := f.reloads()
	if len(got) != len(want) {
		t.Fatalf("OnReload calls = %d (%v), want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("OnReload call %d = %s, want %s", i, f.name(got[i]), f.name(want[i]))
		}
	}
}

// TestReloaderServesNewPairOverTLS replaces the files behind a running TLS
// server and checks, by real handshakes, that the new certificate is served
// once the check interval has passed, and not before.
func TestReloaderServesNewPairOverTLS(t *testing.T) {
	clock := newFakeClock(time.Now())
	var reloads []string
	var mu sync.Mutex
	s := startTLSServer(t, func(r *Reloader) {
		r.Clock = clock.Now
		r.OnReload = func(fp string) {
			mu.Lock()
			defer mu.Unlock()
			reloads = append(reloads, fp)
		}
	})
	old := s.reloader.Fingerprint()
	next := newPair(t, time.Now())
	// The client trusts both, so that only fingerprints decide.
	s.roots.AppendCertsFromPEM(next.cert)

	servedFP := func(when string) string {
		t.Helper()
		st, err := s.handshake(t, &tls.Config{})
		if err != nil {
			t.Fatalf("%s: handshake: %v", when, err)
		}
		return Fingerprint(st.PeerCertificates[0])
	}

	if got := servedFP("before replacement"); got != old {
		t.Fatalf("served %s, want the initial %s", got, old)
	}
	replaceFile(t, s.certFile, next.cert)
	replaceFile(t, s.keyFile, next.key)

	clock.Advance(DefaultCheckInterval - time.Millisecond)
	if got := servedFP("within the interval"); got != old {
		t.Errorf("within the check interval: served %s, want still %s", got, old)
	}
	clock.Advance(time.Millisecond)
	if got := servedFP("after the interval"); got != next.fingerprint {
		t.Errorf("after the check interval: served %s, want the new %s", got, next.fingerprint)
	}
	if got := s.reloader.Fingerprint(); got != next.fingerprint {
		t.Errorf("Fingerprint() = %s, want %s", got, next.fingerprint)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reloads) != 1 || reloads[0] != next.fingerprint {
		t.Errorf("OnReload calls = %v, want one with %s", reloads, next.fingerprint)
	}
}

func TestReloaderCheckInterval(t *testing.T) {
	f := newReloaderFixture(t)
	f.r.CheckInterval = 10 * time.Second
	f.wantServed(t, f.a, "start") // first look at the files
	installPair(t, f.dir, f.b)

	f.clock.Advance(9 * time.Second)
	f.wantServed(t, f.a, "after 9s of a 10s interval")
	f.clock.Advance(time.Second)
	f.wantServed(t, f.b, "after 10s")
	f.wantReloads(t, f.b.fingerprint)
	if n := f.logs.count(slog.LevelInfo); n != 1 {
		t.Errorf("%d info records, want one for the reload", n)
	}
}

func TestReloaderKeepsPreviousOnBrokenReplacement(t *testing.T) {
	type files struct{ cert, key []byte } // nil: remove
	tests := []struct {
		name   string
		broken func(f *reloaderFixture) files
	}{
		{"half-written certificate", func(f *reloaderFixture) files {
			return files{cert: f.b.cert[:len(f.b.cert)/2], key: f.a.key}
		}},
		{"half-written key", func(f *reloaderFixture) files {
			return files{cert: f.a.cert, key: f.b.key[:len(f.b.key)/2]}
		}},
		{"new certificate, old key", func(f *reloaderFixture) files {
			return files{cert: f.b.cert, key: f.a.key}
		}},
		{"empty certificate", func(f *reloaderFixture) files {
			return files{cert: []byte{}, key: f.a.key}
		}},
		{"key removed", func(f *reloaderFixture) files {
			return files{cert: f.a.cert}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newReloaderFixture(t)
			f.wantServed(t, f.a, "start")

			broken := tt.broken(f)
			for path, data := range map[string][]byte{f.certFile: broken.cert, f.keyFile: broken.key} {
				if data == nil {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
					continue
				}
				replaceFile(t, path, data)
			}
			f.clock.Advance(DefaultCheckInterval)
			f.wantServed(t, f.a, "after the broken replacement")
			if n := f.logs.count(slog.LevelWarn); n != 1 {
				t.Errorf("%d warnings after the broken replacement, want 1", n)
			}

			for range 3 {
				f.clock.Advance(DefaultCheckInterval)
				f.wantServed(t, f.a, "while the files stay broken")
			}
			if n := f.logs.count(slog.LevelWarn); n != 1 {
				t.Errorf("%d warnings while the files stay broken, want still 1", n)
			}
			f.wantReloads(t)

			// The rotation completes.
			installPair(t, f.dir, f.b)
			f.clock.Advance(DefaultCheckInterval)
			f.wantServed(t, f.b, "after the fix")
			f.wantReloads(t, f.b.fingerprint)
			if n := f.logs.count(slog.LevelWarn); n != 1 {
				t.Errorf("%d warnings after the fix, want still 1", n)
			}
		})
	}
}

func TestReloaderWarnsAgainOnNextBrokenChange(t *testing.T) {
	f := newReloaderFixture(t)
	replaceFile(t, f.certFile, f.b.cert) // b's certificate with a's key
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.a, "first broken state")
	replaceFile(t, f.certFile, []byte("garbage"))
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.a, "second broken state")
	if n := f.logs.count(slog.LevelWarn); n != 2 {
		t.Errorf("%d warnings for two different broken states, want 2", n)
	}
}

func TestReloaderInPlaceRewrite(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")
	// Rewritten in place: same inode, so only size or modification time can
	// tell. The mtime is set explicitly, as a file system with a coarse clock
	// might otherwise give the old one.
	for path, data := range map[string][]byte{f.certFile: f.b.cert, f.keyFile: f.b.key} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := testNow.Add(time.Minute)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.b, "after rewrite in place")
	f.wantReloads(t, f.b.fingerprint)
}

func TestReloaderSymlinkSwap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	// The layout of a Kubernetes secret volume: tls.crt -> ..data/tls.crt,
	// and ..data a symlink to a timestamped directory, swapped atomically.
	f := newReloaderFixture(t)
	vol := t.TempDir()
	for name, p := range map[string]pair{"v1": f.a, "v2": f.b} {
		installPair(t, mkdir(t, filepath.Join(vol, name)), p)
	}
	mustSymlink(t, "v1", filepath.Join(vol, "..data"))
	for _, name := range []string{CertFileName, KeyFileName} {
		mustSymlink(t, filepath.Join("..data", name), filepath.Join(vol, name))
	}
	r, err := NewReloader(filepath.Join(vol, CertFileName), filepath.Join(vol, KeyFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Clock = f.clock.Now
	f.r = r
	f.wantServed(t, f.a, "start")

	mustSymlink(t, "v2", filepath.Join(vol, "..data_tmp"))
	if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.b, "after the symlink swap")
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderSameContentIsNoReload(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")
	installPair(t, f.dir, f.a) // new inodes, same certificate
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.a, "after rewriting the same pair")
	f.wantReloads(t)
	if n := f.logs.count(slog.LevelInfo); n != 0 {
		t.Errorf("%d info records, want none for an unchanged certificate", n)
	}
}

func TestReloaderClockGoingBackwards(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")
	installPair(t, f.dir, f.b)
	// A stepped-back clock must not postpone checks until it catches up.
	f.clock.Advance(-time.Hour)
	f.wantServed(t, f.b, "after the clock went back")
}

func TestReloaderForcedReload(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")

	// Broken files: Reload reports, logs nothing, keeps the old pair, and
	// the periodic check does not report the same files again.
	replaceFile(t, f.certFile, f.b.cert)
	err := f.r.Reload()
	if !errors.Is(err, ErrInvalidPair) {
		t.Errorf("Reload with mismatched files: err = %v, want ErrInvalidPair", err)
	}
	f.wantServed(t, f.a, "after the failed Reload")
	f.clock.Advance(DefaultCheckInterval)
	f.wantServed(t, f.a, "at the next check")
	if n := f.logs.count(slog.LevelWarn); n != 0 {
		t.Errorf("%d warnings, want none: Reload returns its error", n)
	}

	// Without advancing the clock, Reload takes the new pair at once.
	replaceFile(t, f.keyFile, f.b.key)
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	f.wantServed(t, f.b, "after Reload")
	f.wantReloads(t, f.b.fingerprint)

	// Reload of unchanged files succeeds without a reload event.
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	f.wantReloads(t, f.b.fingerprint)

	if err := os.Remove(f.keyFile); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Reload(); !errors.Is(err, ErrInvalidPair) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload without key file: err = %v, want ErrInvalidPair and fs.ErrNotExist", err)
	}
	f.wantServed(t, f.b, "after Reload without key file")
}

// TestReloaderConcurrentHandshakes lets many handshakes find a check due
// while one of them is stuck looking at the files: only that one looks, the
// others go on with the current pair instead of waiting, and exactly one
// reload happens.
func TestReloaderConcurrentHandshakes(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")
	installPair(t, f.dir, f.b)
	f.clock.Advance(DefaultCheckInterval)

	var stats atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	f.r.stat = func(name string) (fs.FileInfo, error) {
		if stats.Add(1) == 1 {
			close(entered)
			<-release
		}
		return os.Stat(name)
	}

	checker := make(chan *tls.Certificate, 1)
	go func() {
		cert, _ := f.r.GetCertificate(&tls.ClientHelloInfo{})
		checker <- cert
	}()
	<-entered

	const n = 32
	others := make(chan string, n)
	for range n {
		go func() {
			cert, _ := f.r.GetCertificate(&tls.ClientHelloInfo{})
			others <- Fingerprint(cert.Leaf)
		}()
	}
	deadline := time.After(30 * time.Second) // a failure bound, not a wait
	for range n {
		select {
		case fp := <-others:
			if fp != f.a.fingerprint {
				t.Errorf("a handshake during the check got %s, want the current pair a", f.name(fp))
			}
		case <-deadline:
			close(release)
			t.Fatal("handshakes wait for the one looking at the files")
		}
	}

	close(release)
	if fp := Fingerprint((<-checker).Leaf); fp != f.b.fingerprint {
		t.Errorf("the checking handshake got %s, want pair b", f.name(fp))
	}
	if got := stats.Load(); got != 2 {
		t.Errorf("%d stat calls, want 2: one look at both files", got)
	}
	f.wantServed(t, f.b, "after the concurrent handshakes")
	f.wantReloads(t, f.b.fingerprint)
}

func TestNewReloaderErrors(t *testing.T) {
	a, b := newPair(t, testNow), newPair(t, testNow)
	tests := []struct {
		name      string
		cert, key []byte
	}{
		{"missing key", a.cert, nil},
		{"missing certificate", nil, a.key},
		{"mismatched pair", a.cert, b.key},
		{"corrupt certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), a.key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
			if tt.cert != nil {
				replaceFile(t, certFile, tt.cert)
			}
			if tt.key != nil {
				replaceFile(t, keyFile, tt.key)
			}
			r, err := NewReloader(certFile, keyFile, nil)
			if !errors.Is(err, ErrInvalidPair) {
				t.Fatalf("NewReloader = %v, %v; want ErrInvalidPair", r, err)
			}
			if r != nil {
				t.Error("returned a Reloader along with the error")
			}
		})
	}
	if _, err := NewReloader("", "key", nil); err == nil {
		t.Error("empty certificate path accepted")
	}
}

func TestReloaderWarnsAboutExpiredCertificate(t *testing.T) {
	logs := &recordingHandler{}
	// NewReloader reads the real clock; two years is far from the edges.
	p := newPair(t, time.Now().AddDate(-2, 0, 0))
	certFile, keyFile := installPair(t, t.TempDir(), p)
	if _, err := NewReloader(certFile, keyFile, slog.New(logs)); err != nil {
		t.Fatalf("an expired certificate must still load: %v", err)
	}
	if n := logs.count(slog.LevelWarn); n != 1 {
		t.Errorf("%d warnings for an expired certificate, want 1", n)
	}

	// A reload to a certificate valid only in the future warns too.
	f := newReloaderFixture(t)
	future := newPair(t, testNow.AddDate(1, 0, 0))
	installPair(t, f.dir, future)
	f.clock.Advance(DefaultCheckInterval)
	if got := f.served(t); got != future.fingerprint {
		t.Fatalf("served %s, want the future certificate", got)
	}
	if n := f.logs.count(slog.LevelWarn); n != 1 {
		t.Errorf("%d warnings for a not yet valid certificate, want 1", n)
	}
}

// TestReloaderHandshakeDoesNotWaitForReload holds a forced Reload inside its
// look at the files while a periodic check falls due: the handshake must get
// the current pair instead of queueing behind the Reload.
func TestReloaderHandshakeDoesNotWaitForReload(t *testing.T) {
	f := newReloaderFixture(t)
	f.wantServed(t, f.a, "start")
	installPair(t, f.dir, f.b)

	var stats atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	f.r.stat = func(name string) (fs.FileInfo, error) {
		if stats.Add(1) == 1 {
			close(entered)
			<-release
		}
		return os.Stat(name)
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- f.r.Reload() }()
	<-entered
	f.clock.Advance(DefaultCheckInterval)

	handshake := make(chan string, 1)
	go func() {
		cert, _ := f.r.GetCertificate(&tls.ClientHelloInfo{})
		handshake <- Fingerprint(cert.Leaf)
	}()
	select {
	case fp := <-handshake:
		if fp != f.a.fingerprint {
			t.Errorf("handshake during Reload got %s, want pair a", f.name(fp))
		}
	case <-time.After(30 * time.Second): // a failure bound, not a wait
		t.Error("a handshake waited for Reload")
	}
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	f.wantServed(t, f.b, "after Reload")
	f.wantReloads(t, f.b.fingerprint)
}
