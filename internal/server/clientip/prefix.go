package clientip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrInvalidPrefix is wrapped by every error ParsePrefixes returns.
var ErrInvalidPrefix = errors.New("invalid CIDR")

// PrefixError names the configuration entry that failed to parse.
type PrefixError struct {
	Index int    // position of the entry in the list, from 0
	Value string // the entry as given
	Hint  string // what to write instead, when there is an obvious fix
	Err   error  // the parser's complaint
}

// Error reports the entry, its position and, where possible, the fix.
func (e *PrefixError) Error() string {
	msg := fmt.Sprintf("entry %d %q: %v", e.Index, e.Value, e.Err)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidPrefix.
func (e *PrefixError) Unwrap() error { return ErrInvalidPrefix }

// PrefixSet is an immutable list of CIDR prefixes, safe for concurrent use.
// The zero value is empty and contains no address.
type PrefixSet struct {
	prefixes []netip.Prefix
}

// NewPrefixSet returns a set of the given prefixes, normalised (masked,
// IPv4-mapped IPv6 prefixes turned into IPv4 ones) and de-duplicated.
func NewPrefixSet(prefixes ...netip.Prefix) PrefixSet {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		out = append(out, normalizePrefix(p))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return PrefixSet{prefixes: slices.Compact(out)}
}

// ParsePrefixes parses CIDR entries such as "10.0.0.0/8" or "2001:db8::/32";
// a bare address ("192.0.2.7", "::1") stands for itself (/32 or /128).
// An entry with host bits set ("10.1.2.3/8") is refused rather than silently
// widened, since in a trust or allow list that mistake grants far more than
// intended; the error suggests the masked form.
func ParsePrefixes(entries []string) (PrefixSet, error) {
	prefixes := make([]netip.Prefix, 0, len(entries))
	var errs []error
	for i, raw := range entries {
		p, err := parsePrefix(raw)
		if err != nil {
			err.Index = i
			errs = append(errs, err)
			continue
		}
		prefixes = append(prefixes, p)
	}
	if len(errs) > 0 {
		return PrefixSet{}, errors.Join(errs...)
	}
	return NewPrefixSet(prefixes...), nil
}

// MustParsePrefixes is ParsePrefixes for literals in tests and defaults; it
// panics on an invalid entry.
func MustParsePrefixes(entries ...string) PrefixSet {
	s, err := ParsePrefixes(entries)
	if err != nil {
		panic(err)
	}
	return s
}

func parsePrefix(raw string) (netip.Prefix, *PrefixError) {
	s := strings.TrimSpace(raw)
	fail := func(err error, hint string) (netip.Prefix, *PrefixError) {
		return netip.Prefix{}, &PrefixError{Value: raw, Err: err, Hint: hint}
	}
	if s == "" {
		return fail(errors.New("empty entry"), "remove it or write a CIDR such as 10.0.0.0/8")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fail(errors.New("not an IP address or CIDR"), "write e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32")
		}
		if a.Zone() != "" {
			return fail(errors.New("zoned addresses are not supported"), "drop the %zone")
		}
		a = Normalize(a)
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fail(err, "write e.g. 10.0.0.0/8 or 2001:db8::/32")
	}
	if m := p.Masked(); m != p {
		return fail(errors.New("host bits set"), "did you mean "+m.String()+" (or "+p.Addr().String()+" for the single address)?")
	}
	return normalizePrefix(p), nil
}

// normalizePrefix masks p and turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96),
// so that it matches the normalised IPv4 addresses Contains is given.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Contains reports whether addr (normalised first) lies in any prefix of s.
func (s PrefixSet) Contains(addr netip.Addr) bool {
	if len(s.prefixes) == 0 || !addr.IsValid() {
		return false
	}
	addr = Normalize(addr)
	for _, p := range s.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Len is the number of prefixes in s.
func (s PrefixSet) Len() int { return len(s.prefixes) }

// Prefixes returns a copy of the prefixes, sorted.
func (s PrefixSet) Prefixes() []netip.Prefix { return slices.Clone(s.prefixes) }

// String lists the prefixes, comma-separated.
func (s PrefixSet) String() string {
	parts := make([]string, len(s.prefixes))
	for i, p := range s.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
