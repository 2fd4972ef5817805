package certs

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// RedirectHandler answers the optional plain-HTTP listener: GET and HEAD get a
// 308 to the same host, path and query on the HTTPS listener at httpsAddr
// (only its port is used; pass the listener's Addr().String() so that a port
// of 0 has been resolved). Other methods, and requests without a valid Host,
// get 400 and their bodies are not read. Every response closes the
// connection. It panics if httpsAddr has no usable port, a programming error.
func RedirectHandler(httpsAddr string) http.Handler {
	port, err := httpsPort(httpsAddr)
	if err != nil {
		panic(fmt.Sprintf("certs.RedirectHandler: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nothing here reads the body, so the connection cannot be reused.
		w.Header().Set("Connection", "close")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "Plain HTTP only redirects GET and HEAD requests; use HTTPS.", http.StatusBadRequest)
			return
		}
		host, ok := redirectHost(r.Host, port)
		if !ok {
			http.Error(w, "Missing or invalid Host header.", http.StatusBadRequest)
			return
		}
		target := url.URL{
			Scheme:     "https",
			Host:       host,
			Path:       r.URL.Path,
			RawPath:    r.URL.RawPath,
			RawQuery:   r.URL.RawQuery,
			ForceQuery: r.URL.ForceQuery,
		}
		w.Header().Set("Location", target.String())
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

func httpsPort(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTPS address %q: %w", addr, err)
	}
	n, err := net.LookupPort("tcp", port)
	if err != nil || n == 0 {
		return "", fmt.Errorf("HTTPS address %q has no usable port", addr)
	}
	return strconv.Itoa(n), nil
}

// redirectHost returns the authority of the redirect: the host of the Host
// header with port instead of its own, or no port for 443. It accepts only
// DNS names and IP literals, so that nothing odd reaches Location.
func redirectHost(hostHeader, port string) (string, bool) {
	host, bracketed := hostHeader, strings.HasPrefix(hostHeader, "[")
	if h, p, err := net.SplitHostPort(hostHeader); err == nil {
		if !allDigits(p) {
			return "", false
		}
		host = h
	} else if bracketed && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if bracketed { // only IPv6 literals are written in brackets
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", false
		}
		host = "[" + host + "]"
	} else if host == "" || strings.HasPrefix(host, "*") || !validDNSName(host) {
		return "", false
	}
	if port == "443" {
		return host, true
	}
	return host + ":" + port, true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
