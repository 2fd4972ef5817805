package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	// DefaultBcryptCost is the cost NewHasher uses when given 0: 0.2 to
	// 0.7 s per hash, depending on the CPU.
	DefaultBcryptCost = 12
	// MinBcryptCost is the lowest cost NewHasher accepts (OWASP's floor).
	MinBcryptCost = 10
	// MinPasswordLen is the minimum password length in characters (runes).
	MinPasswordLen = 8
	// MaxPasswordBytes is the maximum password length in bytes: bcrypt reads
	// no more than 72 bytes, and a longer password is rejected rather than
	// silently truncated.
	MaxPasswordBytes = 72
)

// bcryptScheme prefixes every stored bcrypt hash.
const bcryptScheme = "bcrypt:"

var (
	// ErrPasswordTooShort is returned for a password of fewer than
	// MinPasswordLen characters.
	ErrPasswordTooShort = fmt.Errorf("password is too short: it needs at least %d characters", MinPasswordLen)
	// ErrPasswordTooLong is returned for a password of more than
	// MaxPasswordBytes bytes.
	ErrPasswordTooLong = fmt.Errorf("password is too long: at most %d bytes (UTF-8) are allowed", MaxPasswordBytes)
	// ErrPasswordInvalid is returned for a password that is not valid UTF-8
	// or contains a NUL byte.
	ErrPasswordInvalid = errors.New("password is invalid: it must be UTF-8 text without NUL characters")
	// ErrUnknownHashScheme is returned by Verify for a stored hash whose
	// algorithm prefix this version does not know.
	ErrUnknownHashScheme = errors.New("unknown password hash scheme")
	// ErrMalformedHash is returned by Verify for a stored hash that has a
	// known prefix but cannot be parsed.
	ErrMalformedHash = errors.New("malformed password hash")
)

// ValidatePassword reports whether pw is acceptable as a new password:
// valid UTF-8 without NUL (ErrPasswordInvalid), at most MaxPasswordBytes
// bytes (ErrPasswordTooLong) and at least MinPasswordLen characters
// (ErrPasswordTooShort).
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) || strings.IndexByte(pw, 0) >= 0 {
		return ErrPasswordInvalid
	}
	if len(pw) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return ErrPasswordTooShort
	}
	return nil
}

// dummyPassword stands in for a password that cannot be compared (longer
// than bcrypt reads) so that rejecting it costs a full comparison too.
const dummyPassword = "repairxctl-dummy-password-never-valid"

// Hasher hashes and verifies passwords with bcrypt at one cost. It is safe
// for concurrent use.
type Hasher struct {
	cost int
	// dummy is a hash made at cost by NewHasher; VerifyDummy compares
	// against it so that unknown users cost what known ones do.
	dummy []byte
	// compare is bcrypt.CompareHashAndPassword; tests count calls to it.
	compare func(hash, pw []byte) error
}

// NewHasher returns a Hasher using cost, or DefaultBcryptCost when cost is
// 0. A cost below MinBcryptCost or above bcrypt.MaxCost is an error.
// NewHasher spends one hash at that cost (for VerifyDummy); every step of
// cost doubles the time.
func NewHasher(cost int) (*Hasher, error) {
	cost, err := bcryptCost(cost)
	if err != nil {
		return nil, err
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(dummyPassword), cost)
	if err != nil {
		return nil, fmt.Errorf("hashing the dummy password: %w", err)
	}
	return &Hasher{cost: cost, dummy: dummy, compare: bcrypt.CompareHashAndPassword}, nil
}

// bcryptCost applies NewHasher's default and bounds to cost.
func bcryptCost(cost int) (int, error) {
	if cost == 0 {
		return DefaultBcryptCost, nil
	}
	if cost < MinBcryptCost || cost > bcrypt.MaxCost {
		return 0, fmt.Errorf("bcrypt cost %d is out of range: use %d to %d (default %d)",
			cost, MinBcryptCost, bcrypt.MaxCost, DefaultBcryptCost)
	}
	return cost, nil
}

// Cost returns the bcrypt cost h hashes with.
func (h *Hasher) Cost() int { return h.cost }

// Hash validates pw with ValidatePassword and returns its encoded hash,
// "bcrypt:" followed by the bcrypt modular crypt string, for example
// "bcrypt:$2a$12$<22 characters of salt><31 characters of hash>".
func (h *Hasher) Hash(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return bcryptScheme + string(hash), nil
}

// Verify reports whether pw matches the encoded hash made by Hash, and, when
// it does, whether the hash should be replaced by Hash(pw) because it was
// made at a lower cost than h's. A hash with an unknown scheme prefix is
// ErrUnknownHashScheme, an unparsable one ErrMalformedHash. A password
// longer than MaxPasswordBytes never matches (no error) but still costs one
// bcrypt comparison, so response times do not tell it apart.
func (h *Hasher) Verify(encoded, pw string) (ok, needsRehash bool, err error) {
	rest, found := strings.CutPrefix(encoded, bcryptScheme)
	if !found {
		return false, false, ErrUnknownHashScheme
	}
	hash := []byte(rest)
	cost, err := bcrypt.Cost(hash)
	if err != nil {
		return false, false, ErrMalformedHash
	}
	if !h.compareOrSpend(hash, pw) {
		return false, false, nil
	}
	return true, cost < h.cost, nil
}

// VerifyDummy spends the time of a Verify at h's cost and matches nothing.
// Call it when the user is unknown so that the answer takes as long as a
// wrong password for a known user.
func (h *Hasher) VerifyDummy(pw string) {
	h.compareOrSpend(h.dummy, pw)
}

// compareOrSpend compares pw with hash, or, for a password bcrypt cannot
// take whole, spends the same comparison on the dummy password and reports
// no match.
func (h *Hasher) compareOrSpend(hash []byte, pw string) bool {
	if len(pw) > MaxPasswordBytes {
		_ = h.compare(hash, []byte(dummyPassword))
		return false
	}
	return h.compare(hash, []byte(pw)) == nil
}
