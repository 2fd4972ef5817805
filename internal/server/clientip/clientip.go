// Package clientip decides which IP address a request came from.
//
// The address is the direct peer (http.Request.RemoteAddr) unless that peer is
// a configured trusted proxy, such as the NGINX in front of `serve`. Only then
// is X-Forwarded-For consulted, and it is read from the right: each proxy
// appends the address it received the connection from, so the right-most
// entries are written by our own proxies and everything to the left of the
// first untrusted entry may have been made up by the client. The client is the
// right-most entry that is not itself a trusted proxy.
//
// Addresses are normalised (IPv4-mapped IPv6 becomes IPv4, zones dropped), and
// Key can aggregate IPv6 clients into their /64 (or any) prefix, since one
// subscriber usually holds a whole /64 and could otherwise rotate addresses to
// escape per-address limits and blocks.
//
// The RFC 7239 Forwarded header and X-Real-IP are not read: NGINX is configured
// with `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`.
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrNoClientAddress means RemoteAddr holds no IP address, as with a Unix
// socket listener; rate limiting by IP cannot work there.
var ErrNoClientAddress = errors.New("request has no client IP address")

// Resolver finds the client address of a request. The zero value trusts no
// proxy and always answers with RemoteAddr. It is safe for concurrent use.
type Resolver struct {
	trusted PrefixSet
}

// NewResolver returns a Resolver that reads X-Forwarded-For only from peers
// within trusted.
func NewResolver(trusted PrefixSet) *Resolver {
	return &Resolver{trusted: trusted}
}

// TrustedProxies is the set of peers whose X-Forwarded-For is believed.
func (r *Resolver) TrustedProxies() PrefixSet { return r.trusted }

// ClientIP returns the normalised client address of req.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, error) {
	return r.Resolve(req.RemoteAddr, req.Header.Values("X-Forwarded-For"))
}

// Resolve is ClientIP on its parts: the connection's remote address
// ("ip:port", or a bare IP) and the X-Forwarded-For field lines in the order
// received (several lines form one comma-separated list).
//
// When the peer is trusted, entries are examined right to left: the first one
// outside the trusted set is the client. If every entry is trusted, or the
// header is absent, the left-most trusted hop is the client (a request made by
// the proxy itself). An entry that is not an address (garbage, "unknown",
// an obfuscated RFC 7239 node name) ends the walk and the nearest trusted hop
// to its right is the answer: anything further left cannot be vouched for.
// Only a trusted proxy can put such an entry there, since an untrusted entry
// to its right ends the walk first.
func (r *Resolver) Resolve(remoteAddr string, forwardedFor []string) (netip.Addr, error) {
	peer, err := ParseRemoteAddr(remoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(forwardedFor) == 0 || !r.trusted.Contains(peer) {
		return peer, nil
	}
	client := peer
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		line := forwardedFor[i]
		for end := len(line); end >= 0; {
			start := strings.LastIndexByte(line[:end], ',') + 1
			field := line[start:end]
			end = start - 1
			field = strings.Trim(field, " \t")
			if field == "" {
				continue // empty list elements are legal (RFC 9110 section 5.6.1)
			}
			hop, ok := ParseHop(field)
			if !ok {
				return client, nil
			}
			client = hop
			if !r.trusted.Contains(hop) {
				return hop, nil
			}
		}
	}
	return client, nil
}

// ParseRemoteAddr parses http.Request.RemoteAddr ("192.0.2.1:1234",
// "[2001:db8::1]:443", or an address without a port) into a normalised address.
func ParseRemoteAddr(remoteAddr string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return Normalize(ap.Addr()), nil
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return Normalize(a), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: RemoteAddr %q", ErrNoClientAddress, remoteAddr)
}

// ParseHop parses one X-Forwarded-For element: an IPv4 or IPv6 address,
// optionally with a port ("192.0.2.1:80", "[2001:db8::1]:80") or in brackets
// ("[2001:db8::1]"). Surrounding spaces must already be trimmed.
func ParseHop(s string) (netip.Addr, bool) {
	if len(s) == 0 || len(s) > 64 {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return Normalize(ap.Addr()), true
		}
		if s[len(s)-1] != ']' {
			return netip.Addr{}, false
		}
		s = s[1 : len(s)-1]
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return Normalize(a), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Normalize(a), true
	}
	// "a.b.c.d:port": exactly one colon, so never a bare IPv6 address.
	if strings.Count(s, ":") == 1 {
		if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
			return ap.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Normalize unmaps IPv4-mapped IPv6 addresses (::ffff:192.0.2.1 becomes
// 192.0.2.1) and drops any zone, so one client has one spelling.
func Normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// Key is the string that identifies a client in limit and block keys: the
// normalised address, or for IPv6 with 0 < ipv6PrefixLen < 128 the masked
// prefix in CIDR form ("2001:db8:1:2::/64"). IPv4 addresses are never
// aggregated.
func Key(addr netip.Addr, ipv6PrefixLen int) string {
	addr = Normalize(addr)
	if addr.Is6() && ipv6PrefixLen > 0 && ipv6PrefixLen < 128 {
		p, err := addr.Prefix(ipv6PrefixLen)
		if err == nil {
			return p.String()
		}
	}
	return addr.String()
}
