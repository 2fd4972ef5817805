package decode

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Required reports a field that is empty or only whitespace.
func Required(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return badRequest(field, "is required")
	}
	return nil
}

// MaxLen reports a field longer than n characters (runes, not bytes).
func MaxLen(field, s string, n int) error {
	if utf8.RuneCountInString(s) > n {
		return badRequest(field, fmt.Sprintf("must be at most %d characters", n))
	}
	return nil
}

// Digits reports a field that is not exactly n ASCII digits, as a TOTP code
// or a numeric PIN must be. Other scripts' digits are refused.
func Digits(field, s string, n int) error {
	ok := len(s) == n
	for i := 0; ok && i < len(s); i++ {
		ok = '0' <= s[i] && s[i] <= '9'
	}
	if !ok {
		return badRequest(field, fmt.Sprintf("must be exactly %d digits", n))
	}
	return nil
}

// maxEmailLen is the longest address SMTP can carry (RFC 5321 4.5.3.1.3
// limits a path to 256 octets including the angle brackets).
const maxEmailLen = 254

// Email reports a field that is not a plausible e-mail address once
// surrounding whitespace is trimmed: at most 254 bytes, one '@' with at most
// 64 bytes before it, a domain of non-empty dot-separated labels with at
// least one dot, and no whitespace, control or format characters (such as
// zero-width spaces and bidirectional overrides) anywhere. Callers
// store strings.TrimSpace(s). It does not try to be RFC 5322: quoted local
// parts and IP-literal domains are refused, internationalised ones are not.
func Email(field, s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return badRequest(field, "is required")
	}
	invalid := badRequest(field, "must be an e-mail address such as name@example.com")
	if len(s) > maxEmailLen {
		return badRequest(field, fmt.Sprintf("must be an e-mail address of at most %d bytes", maxEmailLen))
	}
	if !utf8.ValidString(s) {
		return invalid
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '"' || r == '\\' || r == '<' || r == '>' {
			return invalid
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@") {
		return invalid
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return invalid
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return invalid
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return invalid
		}
		for _, r := range l {
			if r < utf8.RuneSelf && !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
				return invalid
			}
		}
	}
	return nil
}
