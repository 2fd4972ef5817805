package clientip

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	trusted := MustParsePrefixes("10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.10")
	r := NewResolver(trusted)
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores header", "198.51.100.7:4242", []string{"203.0.113.9"}, "198.51.100.7"},
		{"untrusted loopback peer ignores header", "127.0.0.1:4242", []string{"203.0.113.9"}, "127.0.0.1"},
		{"trusted peer, no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"trusted peer, one hop", "10.1.2.3:80", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left entries ignored", "10.1.2.3:80", []string{"1.1.1.1, 8.8.8.8, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops skipped", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9, 10.9.9.9, 192.0.2.10"}, "203.0.113.9"},
		{"all hops trusted: left-most", "10.1.2.3:80", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"multiple lines are one list", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.1", "10.0.0.1"}, "203.0.113.1"},
		{"right-most line wins", "10.1.2.3:80", []string{"203.0.113.1", "203.0.113.2"}, "203.0.113.2"},
		{"empty elements and spaces", "10.1.2.3:80", []string{" ,\t203.0.113.9 , ,"}, "203.0.113.9"},
		{"garbage stops at nearest trusted hop", "10.1.2.3:80", []string{"203.0.113.9, unknown, 10.0.0.7"}, "10.0.0.7"},
		{"garbage right after peer", "10.1.2.3:80", []string{"203.0.113.9, not-an-ip"}, "10.1.2.3"},
		{"garbage left of client never read", "10.1.2.3:80", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"ipv4 with port", "10.1.2.3:80", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"ipv6 bracketed with port", "10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"ipv6 bracketed", "10.1.2.3:80", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"ipv6 bare", "10.1.2.3:80", []string{"2001:DB8::0:1"}, "2001:db8::1"},
		{"ipv6 zone dropped", "10.1.2.3:80", []string{"fe80::1%eth0"}, "fe80::1"},
		{"ipv4-mapped unmapped", "10.1.2.3:80", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"ipv4-mapped trusted peer", "[::ffff:10.1.2.3]:80", []string{"203.0.113.9"}, "203.0.113.9"},
		{"ipv6 trusted peer", "[2001:db8:ffff::5]:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"ipv6 untrusted peer", "[2001:db8:fffe::5]:80", []string{"198.51.100.1"}, "2001:db8:fffe::5"},
		{"remote without port", "10.1.2.3", []string{"203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.remote, tt.xff)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("Resolve(%q, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestZeroResolverIgnoresHeader(t *testing.T) {
	var r Resolver
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	got, err := r.ClientIP(req)
	if err != nil || got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("ClientIP = %v, %v; want 127.0.0.1", got, err)
	}
}

func TestClientIPReadsAllHeaderLines(t *testing.T) {
	r := NewResolver(MustParsePrefixes("127.0.0.0/8"))
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	req.Header.Add("X-Forwarded-For", "203.0.113.1")
	req.Header.Add("X-Forwarded-For", "203.0.113.2")
	got, err := r.ClientIP(req)
	if err != nil || got.String() != "203.0.113.2" {
		t.Fatalf("ClientIP = %v, %v; want 203.0.113.2", got, err)
	}
}

func TestResolveBadRemoteAddr(t *testing.T) {
	for _, remote := range []string{"", "@", "/run/repairx.sock", "example.com:80"} {
		_, err := NewResolver(PrefixSet{}).Resolve(remote, nil)
		if !errors.Is(err, ErrNoClientAddress) {
			t.Errorf("Resolve(%q) error = %v, want ErrNoClientAddress", remote, err)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	s, err := ParsePrefixes([]string{" 10.0.0.0/8 ", "192.0.2.7", "2001:db8::/32", "::1", "::ffff:172.16.0.0/108", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "10.0.0.0/8,172.16.0.0/12,192.0.2.7/32,::1/128,2001:db8::/32"; got != want {
		t.Errorf("set = %s, want %s", got, want)
	}
	in := []string{"10.200.1.1", "192.0.2.7", "::ffff:192.0.2.7", "2001:db8:1::9", "::1", "172.31.0.1", "2001:db8::5%eth0"}
	for _, a := range in {
		if !s.Contains(netip.MustParseAddr(a)) {
			t.Errorf("Contains(%s) = false, want true", a)
		}
	}
	out := []string{"11.0.0.1", "192.0.2.8", "127.0.0.1", "2001:db9::1", "::2", "172.32.0.1"}
	for _, a := range out {
		if s.Contains(netip.MustParseAddr(a)) {
			t.Errorf("Contains(%s) = true, want false", a)
		}
	}
	if (PrefixSet{}).Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("empty set contains loopback")
	}
	if s.Contains(netip.Addr{}) {
		t.Error("set contains the invalid address")
	}
}

func TestParsePrefixesErrors(t *testing.T) {
	tests := []struct {
		entry string
		want  []string
	}{
		{"10.1.2.3/8", []string{`entry 1 "10.1.2.3/8"`, "host bits set", "did you mean 10.0.0.0/8", "10.1.2.3 for the single address"}},
		{"10.0.0.0/33", []string{`entry 1 "10.0.0.0/33"`, "10.0.0.0/8"}},
		{"", []string{"empty entry"}},
		{"localhost", []string{`"localhost"`, "not an IP address or CIDR"}},
		{"fe80::1%eth0", []string{"zoned"}},
		{"300.1.1.1", []string{"not an IP address"}},
	}
	for _, tt := range tests {
		_, err := ParsePrefixes([]string{"127.0.0.0/8", tt.entry})
		if err == nil {
			t.Errorf("ParsePrefixes(%q) succeeded", tt.entry)
			continue
		}
		if !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("ParsePrefixes(%q) error %v does not wrap ErrInvalidPrefix", tt.entry, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParsePrefixes(%q) error %q lacks %q", tt.entry, err, w)
			}
		}
	}
	_, err := ParsePrefixes([]string{"x", "10.0.0.0/8", "y"})
	if err == nil || !strings.Contains(err.Error(), "entry 0") || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("want both bad entries reported, got %v", err)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"203.0.113.9", 64, "203.0.113.9"},
		{"::ffff:203.0.113.9", 64, "203.0.113.9"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 128, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 0, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 48, "2001:db8:1::/48"},
		{"fe80::1%eth0", 128, "fe80::1"},
	}
	for _, tt := range tests {
		if got := Key(netip.MustParseAddr(tt.addr), tt.bits); got != tt.want {
			t.Errorf("Key(%s, %d) = %s, want %s", tt.addr, tt.bits, got, tt.want)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	r := NewResolver(MustParsePrefixes("10.0.0.0/8", "127.0.0.1"))
	xff := []string{"198.51.100.1, 203.0.113.9, 10.0.0.1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve("127.0.0.1:5555", xff); err != nil {
			b.Fatal(err)
		}
	}
}
