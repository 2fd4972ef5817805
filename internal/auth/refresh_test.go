package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestNewRefreshToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, h, err := NewRefreshToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != RefreshTokenLen {
			t.Fatalf("token %q has length %d, want %d", v, len(v), RefreshTokenLen)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q is not 32 bytes of base64url: %v", v, err)
		}
		sum := sha256.Sum256([]byte(v))
		if !bytes.Equal(h, sum[:]) {
			t.Fatal("hash is not SHA-256 of the token string")
		}
		h2, err := HashRefreshToken(v)
		if err != nil || !bytes.Equal(h, h2) {
			t.Fatalf("HashRefreshToken(new token) = %x, %v; want %x", h2, err, h)
		}
		if seen[v] {
			t.Fatal("duplicate refresh token")
		}
		seen[v] = true
	}
}

func TestHashRefreshTokenRejects(t *testing.T) {
	v, _, err := NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"empty":                 "",
		"one short":             v[:42],
		"one long":              v + "A",
		"padded":                v + "=",
		"standard alphabet +":   "+" + v[1:],
		"standard alphabet /":   "/" + v[1:],
		"space":                 " " + v[1:],
		"newline at the end":    v[:42] + "\n",
		"NUL":                   "\x00" + v[1:],
		"non-ASCII of 43 bytes": v[:41] + "é",
		"non-canonical last":    v[:42] + string(nonCanonicalLast(v)[42]),
		"an access token":       strings.Repeat("eyJ", 20),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			h, err := HashRefreshToken(in)
			if !errors.Is(err, ErrInvalidToken) || h != nil {
				t.Fatalf("HashRefreshToken(%q) = %x, %v; want ErrInvalidToken", in, h, err)
			}
			if strings.Contains(err.Error(), v) {
				t.Fatal("error repeats the token")
			}
		})
	}
}

func FuzzHashRefreshToken(f *testing.F) {
	v, _, err := NewRefreshToken()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{v, v[:42], v + "=", nonCanonicalLast(v), strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("-", 43), "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := HashRefreshToken(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) || h != nil {
				t.Fatalf("error %v (hash %x): want ErrInvalidToken and no hash", err, h)
			}
			return
		}
		// Accepted: exactly what NewRefreshToken can produce.
		raw, derr := base64.RawURLEncoding.Strict().DecodeString(in)
		if derr != nil || len(raw) != 32 || base64.RawURLEncoding.EncodeToString(raw) != in {
			t.Fatalf("accepted %q, which is not the canonical encoding of 32 bytes", in)
		}
		sum := sha256.Sum256([]byte(in))
		if !bytes.Equal(h, sum[:]) {
			t.Fatalf("hash of %q is not its SHA-256", in)
		}
	})
}
