package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// refreshTokenBytes is the randomness in a refresh token.
const refreshTokenBytes = 32

// RefreshTokenLen is the length of a refresh token: 32 bytes in unpadded
// base64url.
const RefreshTokenLen = 43 // base64.RawURLEncoding.EncodedLen(refreshTokenBytes)

// refreshEncoding is strict so that exactly one string encodes each token.
var refreshEncoding = base64.RawURLEncoding.Strict()

// NewRefreshToken returns a new refresh token (32 random bytes, base64url
// without padding) and the SHA-256 digest of that string, which is what the
// store keeps.
func NewRefreshToken() (value string, hash []byte, err error) {
	var b [refreshTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("generating refresh token: %w", err)
	}
	value = refreshEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(value))
	return value, sum[:], nil
}

// HashRefreshToken returns the SHA-256 digest under which a presented
// refresh token is stored. Anything that NewRefreshToken cannot have made
// (wrong length, a character outside the base64url alphabet, non-zero
// padding bits) is ErrInvalidToken, so garbage never reaches the store.
func HashRefreshToken(value string) ([]byte, error) {
	if len(value) != RefreshTokenLen {
		return nil, fmt.Errorf("%w: refresh token has the wrong length", ErrInvalidToken)
	}
	var b [refreshTokenBytes + 1]byte // DecodedLen(43) is 33; 32 are used
	n, err := refreshEncoding.Decode(b[:], []byte(value))
	if err != nil || n != refreshTokenBytes {
		return nil, fmt.Errorf("%w: refresh token is not base64url", ErrInvalidToken)
	}
	sum := sha256.Sum256([]byte(value))
	return sum[:], nil
}
