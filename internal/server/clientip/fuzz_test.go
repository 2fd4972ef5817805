package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// referenceResolve is the obvious, allocation-heavy reading of the rule that
// Resolve implements without allocating; the fuzzer checks they agree.
func referenceResolve(trusted PrefixSet, peer netip.Addr, lines []string) netip.Addr {
	if !trusted.Contains(peer) {
		return peer
	}
	var hops []string
	for _, l := range lines {
		hops = append(hops, strings.Split(l, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.Trim(hops[i], " \t")
		if h == "" {
			continue
		}
		a, ok := ParseHop(h)
		if !ok {
			return client
		}
		client = a
		if !trusted.Contains(a) {
			return a
		}
	}
	return client
}

func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.1:80", "203.0.113.9", "")
	f.Add("10.0.0.1:80", "1.1.1.1, 203.0.113.9, 10.0.0.2", "10.0.0.3")
	f.Add("[2001:db8::1]:443", "[2001:db8::2]:80, ::ffff:10.0.0.9", "")
	f.Add("192.0.2.1:1", "unknown, 10.0.0.4", "")
	f.Add("10.0.0.1:80", ",, ,\t", "fe80::1%eth0")
	f.Add("10.0.0.1", "203.0.113.9:65535", "[::1]")
	trusted := MustParsePrefixes("10.0.0.0/8", "2001:db8::/64", "::1")
	r := NewResolver(trusted)
	f.Fuzz(func(t *testing.T, remote, line1, line2 string) {
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		got, err := r.Resolve(remote, lines)
		peer, perr := ParseRemoteAddr(remote)
		if (err != nil) != (perr != nil) {
			t.Fatalf("Resolve error %v, ParseRemoteAddr error %v", err, perr)
		}
		if err != nil {
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("Resolve returned non-normalised %v", got)
		}
		if want := referenceResolve(trusted, peer, lines); got != want {
			t.Fatalf("Resolve(%q, %q) = %v, reference says %v", remote, lines, got, want)
		}
		if !trusted.Contains(peer) && got != peer {
			t.Fatalf("untrusted peer %v, header used: %v", peer, got)
		}
		if got != peer {
			// The answer must come from the header itself.
			joined := strings.ToLower(line1 + "," + line2)
			if !strings.Contains(joined, strings.ToLower(got.String())) && !strings.Contains(joined, strings.TrimPrefix(got.String(), "::ffff:")) {
				// Normalisation can change the spelling (e.g. "::FFFF:1.2.3.4", "0:0::1");
				// check it parses back to the same address from some hop instead.
				found := false
				for _, h := range strings.Split(line1+","+line2, ",") {
					if a, ok := ParseHop(strings.Trim(h, " \t")); ok && a == got {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("answer %v appears in no hop of %q", got, lines)
				}
			}
		}
	})
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.1.2.3/8", "::ffff:10.0.0.0/104", "2001:db8::/32", "1.2.3.4", "", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParsePrefixes([]string{s})
		if err != nil {
			return
		}
		for _, p := range set.Prefixes() {
			if p.Masked() != p || p.Addr().Is4In6() || !set.Contains(p.Addr()) {
				t.Fatalf("ParsePrefixes(%q) produced unnormalised %v", s, p)
			}
		}
	})
}
