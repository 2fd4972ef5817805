package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/repairx/repairxctl/internal/atomicfile"
)

// Names of the files EnsureSelfSigned reads and writes in its directory.
const (
	CertFileName = "tls.crt"
	KeyFileName  = "tls.key"
)

// SelfSignedCommonName is the subject common name of generated certificates,
// so that an operator can tell them from issued ones.
const SelfSignedCommonName = "repairxctl self-signed"

// SelfSignedValidity is the lifetime of a generated certificate: 397 days,
// the most browsers accept for a server certificate.
const SelfSignedValidity = 397 * 24 * time.Hour

// ErrIncompletePair means only one of the certificate and key files exists.
var ErrIncompletePair = errors.New("incomplete TLS key pair")

// ErrInvalidPair means the certificate and key files exist but do not load as
// a matching pair.
var ErrInvalidPair = errors.New("invalid TLS key pair")

// EnsureSelfSigned returns dir/tls.crt and dir/tls.key, generating a
// self-signed ECDSA P-256 certificate for localhost, 127.0.0.1, ::1, the
// machine's hostname and hosts when neither file exists (created is then
// true). Existing files are only read: a lone file is ErrIncompletePair, a
// pair that does not load or match is ErrInvalidPair.
func EnsureSelfSigned(dir string, hosts []string, now time.Time) (certFile, keyFile string, created bool, err error) {
	certFile = filepath.Join(dir, CertFileName)
	keyFile = filepath.Join(dir, KeyFileName)

	certExists, err := exists(certFile)
	if err != nil {
		return "", "", false, err
	}
	keyExists, err := exists(keyFile)
	if err != nil {
		return "", "", false, err
	}
	switch {
	case certExists && keyExists:
		if _, err := loadPair(certFile, keyFile); err != nil {
			return "", "", false, err
		}
		return certFile, keyFile, false, nil
	case certExists != keyExists:
		return "", "", false, incompleteError(certFile, keyFile, certExists)
	}

	sans, err := selfSignedSANs(hosts)
	if err != nil {
		return "", "", false, err
	}
	certPEM, keyPEM, err := generateSelfSigned(sans, now)
	if err != nil {
		return "", "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, fmt.Errorf("create TLS directory: %w", err)
	}
	// The key goes first: a crash between the two leaves a lone key, which the
	// next start reports instead of pairing it with someone else's certificate.
	if err := writeNew(keyFile, keyPEM, 0o600); err != nil {
		return "", "", false, err
	}
	if err := writeNew(certFile, certPEM, 0o644); err != nil {
		// The key was created a moment ago by us and is useless alone.
		_ = os.Remove(keyFile)
		return "", "", false, err
	}
	return certFile, keyFile, true, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("check TLS file: %w", err)
	}
}

func incompleteError(certFile, keyFile string, certExists bool) error {
	have, missing := certFile, keyFile
	if !certExists {
		have, missing = keyFile, certFile
	}
	return fmt.Errorf("%w: %s exists but %s does not; restore the missing file, "+
		"or remove %s to have a new self-signed certificate generated",
		ErrIncompletePair, have, missing, have)
}

// loadPair loads and checks a certificate and key, with an error naming both
// files.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %s, key %s: %w; replace them with a matching "+
			"PEM certificate and key, or remove both to have a self-signed pair generated",
			ErrInvalidPair, certFile, keyFile, err)
	}
	if pair.Leaf == nil { // only with GODEBUG=x509keypairleaf=0
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %s: %w", ErrInvalidPair, certFile, err)
		}
		pair.Leaf = leaf
	}
	return &pair, nil
}

// sans holds the subject alternative names of a generated certificate.
type sans struct {
	dns []string
	ips []net.IP
}

func (s *sans) add(host string) error {
	host = strings.TrimSpace(host)
	if host == "" {
		return nil
	}
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); ip != nil {
		if !slices.ContainsFunc(s.ips, ip.Equal) {
			s.ips = append(s.ips, ip)
		}
		return nil
	}
	if !validDNSName(host) {
		return fmt.Errorf("invalid TLS host %q: want a DNS name or an IP address, without port", host)
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !slices.Contains(s.dns, host) {
		s.dns = append(s.dns, host)
	}
	return nil
}

// validDNSName accepts host names and a leading wildcard label, the forms a
// certificate may name.
func validDNSName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if i == 0 && label == "*" {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func selfSignedSANs(hosts []string) (sans, error) {
	var s sans
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		_ = s.add(h)
	}
	// A hostname that is no valid DNS name (rare, but possible) is left out
	// rather than failing the start.
	if name, err := os.Hostname(); err == nil {
		_ = s.add(name)
	}
	for _, h := range hosts {
		if err := s.add(h); err != nil {
			return sans{}, err
		}
	}
	return s, nil
}

func generateSelfSigned(s sans, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now = now.UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: SelfSignedCommonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              s.dns,
		IPAddresses:           s.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode TLS key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// randomSerial returns a positive 128-bit random serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// writeNew writes data to path with mode perm, atomically and without
// replacing an existing file (see atomicfile.Create).
func writeNew(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Create(path, data, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: it was created by someone else meanwhile: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
