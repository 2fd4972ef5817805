package decode

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func checkValidator(t *testing.T, name string, err error, wantReason string) {
	t.Helper()
	if wantReason == "" {
		if err != nil {
			t.Errorf("%s: got %v, want no error", name, err)
		}
		return
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Errorf("%s: got %v, want *Error %q", name, err, wantReason)
		return
	}
	if e.Status != http.StatusBadRequest || e.Field != "f" || e.Reason != wantReason {
		t.Errorf("%s: got %+v, want {400 f %q}", name, *e, wantReason)
	}
}

func TestRequired(t *testing.T) {
	for s, want := range map[string]string{
		"": "is required", " ": "is required", "\t\n": "is required", "\u00a0": "is required",
		"x": "", " x ": "", "0": "",
	} {
		checkValidator(t, "Required("+s+")", Required("f", s), want)
	}
}

func TestMaxLen(t *testing.T) {
	const tooLong = "must be at most 3 characters"
	for s, want := range map[string]string{
		"": "", "abc": "", "zoë": "", "山田太": "", "😀😀😀": "",
		"abcd": tooLong, "山田太郎": tooLong, "😀😀😀😀": tooLong,
	} {
		checkValidator(t, "MaxLen("+s+", 3)", MaxLen("f", s, 3), want)
	}
}

func TestDigits(t *testing.T) {
	const bad = "must be exactly 6 digits"
	for s, want := range map[string]string{
		"123456": "", "000000": "",
		"12345": bad, "1234567": bad, "": bad, "12345a": bad, " 12345": bad, "123 456": bad,
		"١٢٣٤٥٦": bad, // Arabic-Indic digits
		"１２３４５６": bad, // fullwidth digits
		"-12345": bad, "+12345": bad, "12345\x00": bad,
	} {
		checkValidator(t, "Digits("+s+", 6)", Digits("f", s, 6), want)
	}
}

func TestEmail(t *testing.T) {
	const bad = "must be an e-mail address such as name@example.com"
	local64 := strings.Repeat("a", 64)
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com"
	for s, want := range map[string]string{
		"name@example.com":           "",
		"first.last+tag@example.com": "",
		"  padded@example.com \n":    "",
		"o'brien@example.ie":         "",
		"zoë@example.com":            "",
		"user@bücher.de":             "",
		"a@b.co":                     "",
		local64 + "@example.com":     "",
		"x@sub-domain.example.co.uk": "",
		"":                           "is required",
		"   ":                        "is required",
		"plainaddress":               bad,
		"@example.com":               bad,
		"name@":                      bad,
		"name@localhost":             bad,
		"name@@example.com":          bad,
		"a@b@example.com":            bad,
		"na me@example.com":          bad,
		"name@exa mple.com":          bad,
		"name\t@example.com":         bad,
		"name@example.com\x00":       bad,
		"name\u200b@example.com":     bad, // zero-width space
		"eman\u202e@example.com":     bad, // right-to-left override
		"name@example..com":          bad,
		"name@.example.com":          bad,
		"name@example.com.":          bad,
		"name@-example.com":          bad,
		"name@example_x.com":         bad,
		".name@example.com":          bad,
		"na..me@example.com":         bad,
		"\"quoted\"@example.com":     bad,
		"Name <name@example.com>":    bad,
		"name@[192.0.2.1]":           bad,
		local64 + "a@example.com":    bad,
		"name@example.com\xff":       bad,
		long:                         "must be an e-mail address of at most 254 bytes",
	} {
		checkValidator(t, "Email("+s+")", Email("f", s), want)
	}
	if len(long) != 255 {
		t.Fatalf("long address is %d bytes, want 255", len(long))
	}
	if err := Email("f", long[1:]); err != nil {
		t.Errorf("254-byte address: %v", err)
	}
}
