package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testNow is a fixed time for generated certificates whose validity is
// checked against it rather than against the wall clock.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for Reloader.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// pair is a generated certificate and key as file contents.
type pair struct {
	cert, key   []byte
	fingerprint string
}

// newPair generates a self-signed pair valid around now.
func newPair(t *testing.T, now time.Time) pair {
	t.Helper()
	certFile, keyFile, created, err := EnsureSelfSigned(t.TempDir(), nil, now)
	if err != nil || !created {
		t.Fatalf("EnsureSelfSigned: created=%v err=%v", created, err)
	}
	p := pair{cert: readFile(t, certFile), key: readFile(t, keyFile)}
	p.fingerprint, err = FileFingerprint(certFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// replaceFile puts data at path the way careful tools do: a new file renamed
// over the old one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// installPair writes p as dir/tls.crt and dir/tls.key.
func installPair(t *testing.T, dir string, p pair) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	replaceFile(t, certFile, p.cert)
	replaceFile(t, keyFile, p.key)
	return certFile, keyFile
}

func parseCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// recordingHandler is a slog.Handler that keeps the records it gets.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// count returns how many records of level were logged.
func (h *recordingHandler) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level {
			n++
		}
	}
	return n
}
