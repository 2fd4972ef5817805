package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// Fingerprint returns the SHA-256 fingerprint of cert's DER encoding as
// "SHA256:" and colon-separated upper-case hex bytes, the digits of
// `openssl x509 -noout -fingerprint -sha256`. It returns "" for nil.
func Fingerprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	return fingerprintDER(cert.Raw)
}

func fingerprintDER(der []byte) string {
	const hexDigits = "0123456789ABCDEF"
	sum := sha256.Sum256(der)
	var b strings.Builder
	b.Grow(len("SHA256:") + 3*len(sum))
	b.WriteString("SHA256:")
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// FileFingerprint returns the Fingerprint of the first certificate in the PEM
// file certFile, which is the leaf in a chain file.
func FileFingerprint(certFile string) (string, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("read certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return "", fmt.Errorf("read certificate %s: no PEM CERTIFICATE block found", certFile)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("read certificate %s: %w", certFile, err)
		}
		return Fingerprint(cert), nil
	}
}
