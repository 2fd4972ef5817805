package certs

import "crypto/tls"

// ServerTLSConfig returns the TLS configuration of `serve`: TLS 1.3 only,
// certificates from r, HTTP/2 and HTTP/1.1 by ALPN, and the key exchanges
// X25519MLKEM768 (hybrid post-quantum, Go's default first choice), X25519
// and P-256. Session tickets stay enabled.
//
// Use it with http.Server.ServeTLS(ln, "", ""). It sets no Certificates, so
// r serves handshakes without SNI too; beware that httptest's StartTLS adds
// its own certificate, which crypto/tls then prefers when a client sends no
// server name.
func ServerTLSConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		MaxVersion:     tls.VersionTLS13,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
		// Since Go 1.24 this list is a filter, not an order: crypto/tls picks
		// by its own preference (post-quantum first, then groups the client
		// sent a key share for). Leaving X25519MLKEM768 out would disable it.
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		// Ticket keys are generated and rotated by crypto/tls itself.
		SessionTicketsDisabled: false,
	}
}
