package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// tlsServer is a TLS server built the way the brief's server is: an
// httptest server with ServerTLSConfig.
type tlsServer struct {
	*httptest.Server
	reloader *Reloader
	roots    *x509.CertPool
	certFile string
	keyFile  string
}

// startTLSServer serves a freshly generated pair (valid now, since real
// clients check validity against the real clock) through ServerTLSConfig.
func startTLSServer(t *testing.T, setup func(*Reloader)) *tlsServer {
	t.Helper()
	certFile, keyFile, _, err := EnsureSelfSigned(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(r)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, "%s", req.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = ServerTLSConfig(r)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &tlsServer{Server: srv, reloader: r, roots: poolOf(t, certFile), certFile: certFile, keyFile: keyFile}
}

func poolOf(t *testing.T, certFiles ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range certFiles {
		pool.AddCert(parseCertFile(t, f))
	}
	return pool
}

// handshake makes a fresh TLS connection (no session cache, so never a
// resumption) and returns its state.
func (s *tlsServer) handshake(t *testing.T, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	if cfg.RootCAs == nil {
		cfg.RootCAs = s.roots
	}
	if cfg.ServerName == "" {
		// httptest's StartTLS adds its own certificate to the configuration,
		// and crypto/tls serves that one to clients that send no SNI; a
		// server name makes crypto/tls ask GetCertificate.
		cfg.ServerName = "localhost"
	}
	conn, err := tls.Dial("tcp", s.Listener.Addr().String(), cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

func TestServerTLSConfigFields(t *testing.T) {
	r := &Reloader{}
	cfg := ServerTLSConfig(r)
	if cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions = %x..%x, want TLS 1.3 only", cfg.MinVersion, cfg.MaxVersion)
	}
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("NextProtos = %q", cfg.NextProtos)
	}
	if cfg.SessionTicketsDisabled {
		t.Error("session tickets disabled")
	}
	if len(cfg.Certificates) != 0 {
		t.Error("static Certificates set; they would shadow the Reloader for clients without SNI")
	}
	if cfg.GetCertificate == nil {
		t.Error("GetCertificate not set")
	}
	if cfg2 := ServerTLSConfig(r); &cfg2.NextProtos[0] == &cfg.NextProtos[0] {
		t.Error("configurations share slices")
	}
}

func TestTLS13Handshake(t *testing.T) {
	s := startTLSServer(t, nil)
	wantFP, err := FileFingerprint(s.certFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.reloader.Fingerprint(); got != wantFP {
		t.Errorf("Reloader.Fingerprint = %s, want %s", got, wantFP)
	}

	t.Run("TLS 1.2 client is refused", func(t *testing.T) {
		_, err := s.handshake(t, &tls.Config{MaxVersion: tls.VersionTLS12})
		if err == nil {
			t.Fatal("TLS 1.2 handshake succeeded")
		}
		if !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("err = %v, want a protocol version alert", err)
		}
	})

	t.Run("TLS 1.3 client over HTTP/2", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: s.roots, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		}}
		t.Cleanup(client.CloseIdleConnections)
		resp, err := client.Get(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("version = %x, want TLS 1.3", resp.TLS.Version)
		}
		if string(body) != "HTTP/2.0" || resp.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("protocol = %s (ALPN %q), want HTTP/2.0 (h2)", body, resp.TLS.NegotiatedProtocol)
		}
		if got := Fingerprint(resp.TLS.PeerCertificates[0]); got != wantFP {
			t.Errorf("served %s, want %s", got, wantFP)
		}
		// Go's default and first choice, kept by ServerTLSConfig.
		if resp.TLS.CurveID != tls.X25519MLKEM768 {
			t.Errorf("key exchange = %v, want X25519MLKEM768", resp.TLS.CurveID)
		}
	})

	t.Run("HTTP/1.1 by ALPN", func(t *testing.T) {
		st, err := s.handshake(t, &tls.Config{NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN = %q, want http/1.1", st.NegotiatedProtocol)
		}
	})

	for _, tt := range []struct {
		client []tls.CurveID
		want   tls.CurveID // 0: refused
	}{
		{client: []tls.CurveID{tls.X25519}, want: tls.X25519},
		{client: []tls.CurveID{tls.CurveP256}, want: tls.CurveP256},
		// Key shares for both: the server still picks post-quantum.
		{client: []tls.CurveID{tls.X25519, tls.X25519MLKEM768}, want: tls.X25519MLKEM768},
		{client: []tls.CurveID{tls.CurveP384}},
		{client: []tls.CurveID{tls.SecP256r1MLKEM768}},
	} {
		t.Run(fmt.Sprintf("client groups %v", tt.client), func(t *testing.T) {
			st, err := s.handshake(t, &tls.Config{CurvePreferences: tt.client})
			switch {
			case tt.want == 0 && err == nil:
				t.Errorf("handshake succeeded with %v, want refused", st.CurveID)
			case tt.want != 0 && err != nil:
				t.Errorf("handshake: %v", err)
			case tt.want != 0 && st.CurveID != tt.want:
				t.Errorf("key exchange = %v, want %v", st.CurveID, tt.want)
			}
		})
	}
}

// TestServeTLSWithoutSNI runs the configuration the way `serve` does,
// http.Server.ServeTLS with no certificate files, and connects by IP address,
// for which clients send no server name: the Reloader must answer, and the
// certificate must name 127.0.0.1.
func TestServeTLSWithoutSNI(t *testing.T) {
	certFile, keyFile, _, err := EnsureSelfSigned(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { io.WriteString(w, req.Proto) }),
		TLSConfig: ServerTLSConfig(r),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: poolOf(t, certFile)},
		ForceAttemptHTTP2: true,
	}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := Fingerprint(resp.TLS.PeerCertificates[0]); got != r.Fingerprint() {
		t.Errorf("served %s, want %s", got, r.Fingerprint())
	}
	if string(body) != "HTTP/2.0" {
		t.Errorf("protocol = %s, want HTTP/2.0", body)
	}
}
