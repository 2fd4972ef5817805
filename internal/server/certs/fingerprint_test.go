package certs

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprintFormat(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	cert := &x509.Certificate{Raw: []byte("abc")}
	want := "SHA256:BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:" +
		"B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
	if got := Fingerprint(cert); got != want {
		t.Errorf("Fingerprint = %s\nwant          %s", got, want)
	}
	if got := Fingerprint(nil); got != "" {
		t.Errorf("Fingerprint(nil) = %q, want empty", got)
	}
}

func TestFileFingerprintReadsLeafOfChainFile(t *testing.T) {
	leaf, other := newPair(t, testNow), newPair(t, testNow)
	path := filepath.Join(t.TempDir(), "chain.pem")
	// A leading non-certificate block, the leaf, then an "intermediate".
	data := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
		string(leaf.cert) + string(other.cert)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := FileFingerprint(path)
	if err != nil {
		t.Fatal(err)
	}
	certOnly := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(certOnly, leaf.cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if want := Fingerprint(parseCertFile(t, certOnly)); got != want {
		t.Errorf("FileFingerprint = %s, want the leaf's %s", got, want)
	}
}

func TestFileFingerprintErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.pem":   "",
		"key.pem":     "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"garbage.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if fp, err := FileFingerprint(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: FileFingerprint = %q, %v; want an error naming the file", name, fp, err)
		}
	}
	if _, err := FileFingerprint(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestFingerprintMatchesOpenSSL checks the claim of the doc comment where
// openssl is installed.
func TestFingerprintMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	certFile, _, _, err := EnsureSelfSigned(t.TempDir(), nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in", certFile).Output()
	if err != nil {
		t.Fatal(err)
	}
	// "sha256 Fingerprint=AB:CD:..." (older versions: "SHA256 Fingerprint=").
	_, hex, ok := strings.Cut(strings.TrimSpace(string(out)), "Fingerprint=")
	if !ok {
		t.Fatalf("unexpected openssl output %q", out)
	}
	got, err := FileFingerprint(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SHA256:" + hex; got != want {
		t.Errorf("FileFingerprint = %s, openssl says %s", got, want)
	}
}
