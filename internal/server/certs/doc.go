// Package certs provides the TLS material of `serve`: a self-signed
// certificate for first start, a Reloader that picks up a renewed certificate
// without a restart, the TLS 1.3 server configuration, and the handler of the
// optional plain-HTTP listener that redirects to HTTPS.
//
// # Files
//
// A certificate and its key live in two PEM files, by default tls.crt and
// tls.key in the state directory. EnsureSelfSigned creates them only when
// neither exists; anything else the operator put there is used as it is or
// reported, never overwritten. New files are written to a temporary name,
// synced and then linked into place, so a reader never sees half a file and a
// file that appeared meanwhile is not replaced.
//
// # Reloading
//
// Reloader.GetCertificate is called on every handshake. Its fast path is an
// atomic load of the next check time and of the current certificate. Once per
// CheckInterval the one handshake that wins a try-lock stats both files
// (following symlinks, so a Kubernetes secret volume or a certbot live/
// directory works) and reloads them when modification time, size, device or
// inode changed. A pair that fails to load (a half-written file, a
// certificate with the previous key) is logged once per change of the files
// and the previous certificate stays in service; the next change is tried
// again. Reload forces a load, for SIGHUP.
//
// # Key exchange
//
// ServerTLSConfig allows TLS 1.3 only. Since Go 1.24 crypto/tls ignores the
// order of Config.CurvePreferences and only uses it as a filter over its own
// preference order, which puts hybrid post-quantum groups first. Listing only
// X25519 and P-256 would therefore silently turn off the default
// X25519MLKEM768 key exchange; the configuration lists it too.
// GODEBUG=tlsmlkem=0 still removes it, as it filters the default list before
// CurvePreferences does.
package certs
