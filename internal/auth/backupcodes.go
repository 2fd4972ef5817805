package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"unicode"
)

const (
	// backupCodeBytes is the randomness in a backup code: 80 bits, 16
	// base32 characters.
	backupCodeBytes = 10
	// backupCodeChars is the length of a normalised backup code.
	backupCodeChars = 16
)

// MaxBackupCodes bounds NewBackupCodes' n.
const MaxBackupCodes = 100

// backupEncoding is RFC 4648 base32 in lower case: no 0, 1, 8 or 9 to
// confuse with o, l, b or g.
var backupEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewBackupCodes returns n distinct one-time backup codes, each 80 random
// bits written as four groups of four lower-case base32 characters
// ("abcd-efgh-ijkl-mnop"), and their HashBackupCode digests in the same
// order, for the store.
func NewBackupCodes(n int) (codes []string, hashes [][]byte, err error) {
	if n < 1 || n > MaxBackupCodes {
		return nil, nil, fmt.Errorf("backup code count %d is out of range: use 1 to %d", n, MaxBackupCodes)
	}
	seen := make(map[string]bool, n)
	codes = make([]string, 0, n)
	hashes = make([][]byte, 0, n)
	for len(codes) < n {
		var b [backupCodeBytes]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, fmt.Errorf("generating backup codes: %w", err)
		}
		s := backupEncoding.EncodeToString(b[:])
		if seen[s] {
			continue // 2^-80 per pair; kept so "distinct" is a guarantee
		}
		seen[s] = true
		codes = append(codes, s[0:4]+"-"+s[4:8]+"-"+s[8:12]+"-"+s[12:16])
		hashes = append(hashes, HashBackupCode(s))
	}
	return codes, hashes, nil
}

// NormaliseBackupCode returns code as stored: lower case, without spaces,
// other white space or '-', so that "ABCD EFGH-ijkl-mnop " and
// "abcd-efgh-ijkl-mnop" are one code.
func NormaliseBackupCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, code)
}

// IsBackupCode reports whether code, once normalised, has the shape of a
// backup code (16 base32 characters), to tell it from a TOTP code and to
// refuse garbage before a store lookup.
func IsBackupCode(code string) bool {
	n := NormaliseBackupCode(code)
	if len(n) != backupCodeChars {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// HashBackupCode returns the SHA-256 digest of the normalised code, the
// form in which backup codes are stored and looked up.
func HashBackupCode(code string) []byte {
	sum := sha256.Sum256([]byte(NormaliseBackupCode(code)))
	return sum[:]
}
