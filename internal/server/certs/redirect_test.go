package certs

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedirectHandler(t *testing.T) {
	tests := []struct {
		name      string
		httpsAddr string
		method    string
		target    string // request-target
		host      string
		wantCode  int
		wantLoc   string
	}{
		{"host without port", ":8443", "GET", "/a/b?x=1&y=2", "example.com", 308, "https://example.com:8443/a/b?x=1&y=2"},
		{"port replaced", ":8443", "GET", "/", "example.com:8080", 308, "https://example.com:8443/"},
		{"port 443 omitted", "0.0.0.0:443", "GET", "/p?q", "example.com:80", 308, "https://example.com/p?q"},
		{"named port", "[::]:https", "GET", "/", "example.com", 308, "https://example.com/"},
		{"HEAD", ":8443", "HEAD", "/x", "example.com", 308, "https://example.com:8443/x"},
		{"IPv4 host", "127.0.0.1:8443", "GET", "/", "192.0.2.1:80", 308, "https://192.0.2.1:8443/"},
		{"IPv6 host", ":8443", "GET", "/", "[2001:db8::1]:80", 308, "https://[2001:db8::1]:8443/"},
		{"IPv6 host without port", ":8443", "GET", "/", "[2001:db8::1]", 308, "https://[2001:db8::1]:8443/"},
		{"IPv6 host to 443", ":443", "GET", "/", "[2001:db8::1]", 308, "https://[2001:db8::1]/"},
		{"escaped path kept", ":8443", "GET", "/a%2Fb/c%20d?e=%26", "example.com", 308, "https://example.com:8443/a%2Fb/c%20d?e=%26"},
		{"empty query kept", ":8443", "GET", "/a?", "example.com", 308, "https://example.com:8443/a?"},
		{"double slash stays a path", ":8443", "GET", "//evil.example/x", "example.com", 308, "https://example.com:8443//evil.example/x"},
		{"trailing dot", ":8443", "GET", "/", "example.com.", 308, "https://example.com.:8443/"},

		{"POST", ":8443", "POST", "/login", "example.com", 400, ""},
		{"PUT", ":8443", "PUT", "/", "example.com", 400, ""},
		{"OPTIONS", ":8443", "OPTIONS", "/", "example.com", 400, ""},
		{"no host", ":8443", "GET", "/", "", 400, ""},
		{"host with userinfo", ":8443", "GET", "/", "user@example.com", 400, ""},
		{"host with space", ":8443", "GET", "/", "exa mple.com", 400, ""},
		{"host with path", ":8443", "GET", "/", "example.com/x", 400, ""},
		{"non-numeric port", ":8443", "GET", "/", "example.com:http", 400, ""},
		{"bare IPv6", ":8443", "GET", "/", "2001:db8::1", 400, ""},
		{"IPv6 zone", ":8443", "GET", "/", "[fe80::1%25eth0]:80", 400, ""},
		{"bracketed name", ":8443", "GET", "/", "[example.com]", 400, ""},
		{"wildcard", ":8443", "GET", "/", "*.example.com", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &readRecorder{Reader: strings.NewReader("secret=1")}
			req := httptest.NewRequest(tt.method, tt.target, body)
			req.Host = tt.host
			rec := httptest.NewRecorder()

			RedirectHandler(tt.httpsAddr).ServeHTTP(rec, req)

			if rec.Code != tt.wantCode {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tt.wantCode, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
			if got := rec.Header().Get("Connection"); got != "close" {
				t.Errorf("Connection = %q, want close", got)
			}
			if body.read {
				t.Error("the request body was read")
			}
			if tt.wantCode == 308 && rec.Body.Len() != 0 {
				t.Errorf("redirect has a body: %q", rec.Body)
			}
		})
	}
}

type readRecorder struct {
	io.Reader
	read bool
}

func (r *readRecorder) Read(p []byte) (int, error) {
	r.read = true
	return r.Reader.Read(p)
}

func TestRedirectHandlerPanicsWithoutPort(t *testing.T) {
	for _, addr := range []string{"localhost", ":0", "", "host:nosuchservice"} {
		t.Run(addr, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("RedirectHandler(%q) did not panic", addr)
				}
			}()
			RedirectHandler(addr)
		})
	}
}

// TestRedirectHandlerOverHTTP checks what the recorder cannot: that Go's
// server closes the connection, and that an HTTP/1.0 request without Host
// reaches the handler and gets 400.
func TestRedirectHandlerOverHTTP(t *testing.T) {
	srv := httptest.NewServer(RedirectHandler("127.0.0.1:8443"))
	t.Cleanup(srv.Close)

	for _, tt := range []struct {
		name, request string
		wantStatus    string
		wantLoc       string
	}{
		{"GET", "GET /x?y HTTP/1.1\r\nHost: repairx.example.com\r\n\r\n", "308", "https://repairx.example.com:8443/x?y"},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "400", ""},
		{"POST with body", "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello", "400", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.request); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Status[:3]; got != tt.wantStatus {
				t.Errorf("status = %s, want %s", resp.Status, tt.wantStatus)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
			if !resp.Close {
				t.Error("response does not close the connection")
			}
			// The server closed its side: the next read ends, no second
			// response on this connection.
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("connection still open after the response (read: %v)", err)
			}
		})
	}
}
