package auth

import (
	"bytes"
	"regexp"
	"testing"
)

var backupCodePattern = regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)

func TestNewBackupCodes(t *testing.T) {
	codes, hashes, err := NewBackupCodes(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || len(hashes) != 10 {
		t.Fatalf("got %d codes and %d hashes, want 10", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if !backupCodePattern.MatchString(c) {
			t.Errorf("code %q does not look like xxxx-xxxx-xxxx-xxxx", c)
		}
		// 16 base32 characters are 80 bits, all of them random.
		raw, err := backupEncoding.DecodeString(NormaliseBackupCode(c))
		if err != nil || len(raw) != 10 {
			t.Errorf("code %q does not decode to 10 bytes: %v", c, err)
		}
		if !bytes.Equal(hashes[i], HashBackupCode(c)) {
			t.Errorf("hash %d is not HashBackupCode(codes[%d])", i, i)
		}
		if !IsBackupCode(c) {
			t.Errorf("IsBackupCode(%q) = false", c)
		}
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
	}
	for _, n := range []int{0, -1, MaxBackupCodes + 1} {
		if c, h, err := NewBackupCodes(n); err == nil || c != nil || h != nil {
			t.Errorf("NewBackupCodes(%d) succeeded", n)
		}
	}
	if c, _, err := NewBackupCodes(MaxBackupCodes); err != nil || len(c) != MaxBackupCodes {
		t.Errorf("NewBackupCodes(%d) = %d codes, %v", MaxBackupCodes, len(c), err)
	}
}

func TestNormaliseBackupCode(t *testing.T) {
	const want = "abcdefghijklmnop"
	for _, in := range []string{
		"abcd-efgh-ijkl-mnop",
		"ABCD-EFGH-IJKL-MNOP",
		"abcdefghijklmnop",
		"  abcd efgh ijkl mnop\n",
		"abcd\tefgh-ijkl mnop",
		"aBcD--eFgH--iJkL--mNoP",
		"abcd\u00a0efgh ijkl-mnop", // no-break space from a copy and paste
	} {
		if got := NormaliseBackupCode(in); got != want {
			t.Errorf("NormaliseBackupCode(%q) = %q, want %q", in, got, want)
		}
		if !bytes.Equal(HashBackupCode(in), HashBackupCode(want)) {
			t.Errorf("HashBackupCode(%q) differs from that of its normal form", in)
		}
	}
	if bytes.Equal(HashBackupCode("abcd-efgh-ijkl-mnop"), HashBackupCode("abcd-efgh-ijkl-mnoq")) {
		t.Fatal("different codes hash alike")
	}
	if len(HashBackupCode(want)) != 32 {
		t.Fatal("hash is not 32 bytes")
	}
}

func TestIsBackupCode(t *testing.T) {
	tests := map[string]bool{
		"abcd-efgh-ijkl-mnop":  true,
		"ABCD EFGH IJKL MNOP":  true,
		"2345-6722-abcd-efgh":  true,
		"123456":               false, // a TOTP code
		"abcd-efgh-ijkl-mno":   false,
		"abcd-efgh-ijkl-mnopq": false,
		"abcd-efgh-ijkl-mno1":  false, // 1 is not base32
		"abcd-efgh-ijkl-mno0":  false,
		"abcd-efgh-ijkl-mnö":   false,
		"":                     false,
	}
	for in, want := range tests {
		if got := IsBackupCode(in); got != want {
			t.Errorf("IsBackupCode(%q) = %v, want %v", in, got, want)
		}
	}
}
