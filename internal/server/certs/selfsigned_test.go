package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnsureSelfSignedGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "tls")
	hosts := []string{"repairx.example.com", "REPAIRX.example.com.", "10.1.2.3", "[2001:db8::1]", " ", "localhost"}

	certFile, keyFile, created, err := EnsureSelfSigned(dir, hosts, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for an empty directory")
	}
	if want := filepath.Join(dir, "tls.crt"); certFile != want {
		t.Errorf("certFile = %q, want %q", certFile, want)
	}
	if want := filepath.Join(dir, "tls.key"); keyFile != want {
		t.Errorf("keyFile = %q, want %q", keyFile, want)
	}

	cert := parseCertFile(t, certFile)
	if cert.Subject.CommonName != "repairxctl self-signed" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if want := testNow.Add(-time.Hour); !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", cert.NotBefore, want)
	}
	if want := testNow.AddDate(0, 0, 397); !cert.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", cert.NotAfter, want)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %b, want DigitalSignature only", cert.KeyUsage)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want [ServerAuth]", cert.ExtKeyUsage)
	}
	if cert.IsCA {
		t.Error("IsCA = true")
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key = %T, want ECDSA P-256", cert.PublicKey)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
	}
	if cert.SerialNumber.BitLen() < 64 {
		// 2^-64 chance for a fair 128-bit draw.
		t.Errorf("serial %v looks too short to be random", cert.SerialNumber)
	}

	wantDNS := []string{"localhost", "repairx.example.com"}
	if name, err := os.Hostname(); err == nil && validDNSName(name) && net.ParseIP(name) == nil {
		wantDNS = append(wantDNS, strings.ToLower(strings.TrimSuffix(name, ".")))
	}
	for _, name := range wantDNS {
		if n := countString(cert.DNSNames, name); n != 1 {
			t.Errorf("DNS SAN %q appears %d times in %q, want once", name, n, cert.DNSNames)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "2001:db8::1"} {
		if !slices.ContainsFunc(cert.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP SAN %s missing from %v", ip, cert.IPAddresses)
		}
	}
	if len(cert.IPAddresses) != 4 {
		t.Errorf("IP SANs = %v, want 4", cert.IPAddresses)
	}

	// The names are usable: a client trusting this certificate accepts it
	// for them, and not for others.
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for _, name := range []string{"localhost", "repairx.example.com", "127.0.0.1", "::1", "10.1.2.3"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: testNow}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.com", CurrentTime: testNow}); err == nil {
		t.Error("verify for other.example.com succeeded")
	}

	if runtime.GOOS != "windows" {
		assertMode(t, keyFile, 0o600)
		assertMode(t, certFile, 0o644)
		assertMode(t, dir, 0o700|os.ModeDir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("directory holds %v, want only tls.crt and tls.key (no temporary files)", entries)
	}
	if _, err := NewReloader(certFile, keyFile, nil); err != nil {
		t.Errorf("generated pair does not load: %v", err)
	}
}

func countString(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("mode of %s = %v, want %v", filepath.Base(path), got, want)
	}
}

func TestEnsureSelfSignedKeepsExistingPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _, err := EnsureSelfSigned(dir, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	certBefore, keyBefore := readFile(t, certFile), readFile(t, keyFile)

	certFile2, keyFile2, created, err := EnsureSelfSigned(dir, []string{"new.example.com"}, testNow.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second call: created = true")
	}
	if certFile2 != certFile || keyFile2 != keyFile {
		t.Errorf("second call returned %s, %s; want %s, %s", certFile2, keyFile2, certFile, keyFile)
	}
	if !bytes.Equal(readFile(t, certFile), certBefore) || !bytes.Equal(readFile(t, keyFile), keyBefore) {
		t.Error("second call changed the files")
	}
}

func TestEnsureSelfSignedNewSerialEachTime(t *testing.T) {
	a := parseCertFile(t, filepath.Join(mustEnsure(t), CertFileName))
	b := parseCertFile(t, filepath.Join(mustEnsure(t), CertFileName))
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Errorf("two certificates share serial %v", a.SerialNumber)
	}
}

func mustEnsure(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, _, err := EnsureSelfSigned(dir, nil, testNow); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnsureSelfSignedRefusesOperatorFiles(t *testing.T) {
	a, b := newPair(t, testNow), newPair(t, testNow)
	garbage := []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")

	tests := []struct {
		name      string
		cert, key []byte // nil: file absent
		wantErr   error
		mention   string // file the message must name
	}{
		{name: "certificate only", cert: a.cert, wantErr: ErrIncompletePair, mention: "tls.crt"},
		{name: "key only", key: a.key, wantErr: ErrIncompletePair, mention: "tls.key"},
		{name: "mismatched pair", cert: a.cert, key: b.key, wantErr: ErrInvalidPair, mention: "tls.key"},
		{name: "corrupt certificate", cert: garbage, key: a.key, wantErr: ErrInvalidPair, mention: "tls.crt"},
		{name: "corrupt key", cert: a.cert, key: []byte("not a key"), wantErr: ErrInvalidPair, mention: "tls.key"},
		{name: "empty files", cert: []byte{}, key: []byte{}, wantErr: ErrInvalidPair, mention: "tls.crt"},
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

			_, _, created, err := EnsureSelfSigned(dir, nil, testNow)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if created {
				t.Error("created = true")
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tt.mention)) {
				t.Errorf("error %q does not name %s", err, tt.mention)
			}
			assertContent(t, certFile, tt.cert)
			assertContent(t, keyFile, tt.key)
			if entries, _ := os.ReadDir(dir); len(entries) != countNonNil(tt.cert, tt.key) {
				t.Errorf("directory now holds %v", entries)
			}
		})
	}
}

func countNonNil(bs ...[]byte) int {
	n := 0
	for _, b := range bs {
		if b != nil {
			n++
		}
	}
	return n
}

// assertContent checks that path holds want, or is absent for nil.
func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch {
	case want == nil && !errors.Is(err, os.ErrNotExist):
		t.Errorf("%s exists (err %v), want it absent", filepath.Base(path), err)
	case want != nil && err != nil:
		t.Errorf("%s: %v", filepath.Base(path), err)
	case want != nil && !bytes.Equal(got, want):
		t.Errorf("%s was modified", filepath.Base(path))
	}
}

func TestEnsureSelfSignedRejectsBadHosts(t *testing.T) {
	for _, host := range []string{"example.com:8443", "https://example.com", "exa mple.com", "-bad.example.com", "fe80::1%eth0"} {
		t.Run(host, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			_, _, _, err := EnsureSelfSigned(dir, []string{host}, testNow)
			if err == nil || !strings.Contains(err.Error(), host) {
				t.Fatalf("err = %v, want one naming %q", err, host)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("directory was created despite the error (stat: %v)", err)
			}
		})
	}
}

func TestEnsureSelfSignedAcceptsWildcard(t *testing.T) {
	certFile, _, _, err := EnsureSelfSigned(t.TempDir(), []string{"*.repairx.example.com"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if cert := parseCertFile(t, certFile); !slices.Contains(cert.DNSNames, "*.repairx.example.com") {
		t.Errorf("DNS SANs = %v", cert.DNSNames)
	}
}

// TestWriteNewDoesNotReplace covers the race EnsureSelfSigned cannot see
// coming: a file that appears between its check and its write.
func TestWriteNewDoesNotReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tls.key")
	if err := os.WriteFile(path, []byte("operator's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(path, []byte("ours"), 0o600); !errors.Is(err, os.ErrExist) {
		t.Errorf("writeNew over an existing file: err = %v, want ErrExist", err)
	}
	assertContent(t, path, []byte("operator's"))
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want no temporary file left", entries)
	}
}
