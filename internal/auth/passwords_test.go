package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", ErrPasswordTooShort},
		{"7 ASCII characters", "abcdefg", ErrPasswordTooShort},
		{"8 ASCII characters", "abcdefgh", nil},
		{"7 two-byte characters (14 bytes)", strings.Repeat("é", 7), ErrPasswordTooShort},
		{"8 two-byte characters", strings.Repeat("é", 8), nil},
		{"7 four-byte characters (28 bytes)", strings.Repeat("😀", 7), ErrPasswordTooShort},
		{"exactly 72 bytes", strings.Repeat("a", 72), nil},
		{"73 bytes", strings.Repeat("a", 73), ErrPasswordTooLong},
		{"24 three-byte characters (72 bytes)", strings.Repeat("€", 24), nil},
		{"25 three-byte characters (75 bytes)", strings.Repeat("€", 25), ErrPasswordTooLong},
		{"71 bytes then a two-byte character (73 bytes)", strings.Repeat("a", 71) + "é", ErrPasswordTooLong},
		{"invalid UTF-8", "abcdefgh\xff", ErrPasswordInvalid},
		{"truncated UTF-8 sequence", "abcdefgh\xe2\x82", ErrPasswordInvalid},
		{"NUL byte", "abcd\x00efgh", ErrPasswordInvalid},
		{"NUL and too long", strings.Repeat("a", 80) + "\x00", ErrPasswordInvalid},
		{"spaces count", "        ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidatePassword(tt.pw); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("ValidatePassword(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}

func TestBcryptCost(t *testing.T) {
	tests := []struct {
		in, want int
		ok       bool
	}{
		{0, DefaultBcryptCost, true},
		{MinBcryptCost, MinBcryptCost, true},
		{bcrypt.MaxCost, bcrypt.MaxCost, true},
		{MinBcryptCost - 1, 0, false},
		{bcrypt.MaxCost + 1, 0, false},
		{-1, 0, false},
	}
	for _, tt := range tests {
		got, err := bcryptCost(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("bcryptCost(%d) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestNewHasherCost(t *testing.T) {
	t.Parallel()
	for _, cost := range []int{-1, 1, 4, MinBcryptCost - 1, bcrypt.MaxCost + 1, 100} {
		if _, err := NewHasher(cost); err == nil {
			t.Errorf("NewHasher(%d) succeeded, want an error", cost)
		}
	}
	h, err := NewHasher(MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	if h.Cost() != MinBcryptCost {
		t.Fatalf("Cost() = %d, want %d", h.Cost(), MinBcryptCost)
	}
	if c, err := bcrypt.Cost(h.dummy); err != nil || c != MinBcryptCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", c, err, MinBcryptCost)
	}
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, MinBcryptCost)
	const pw = "correct horse battery staple"
	enc, err := h.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "bcrypt:$2a$10$") {
		t.Fatalf("encoded hash %q lacks the bcrypt:$2a$10$ prefix", enc)
	}
	if strings.Contains(enc, pw) {
		t.Fatal("encoded hash contains the password")
	}
	enc2, err := h.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}

	tests := []struct {
		name    string
		encoded string
		pw      string
		ok      bool
		err     error
	}{
		{"right password", enc, pw, true, nil},
		{"second hash", enc2, pw, true, nil},
		{"wrong password", enc, pw + "!", false, nil},
		{"empty password", enc, "", false, nil},
		{"case differs", enc, strings.ToUpper(pw), false, nil},
		{"no scheme prefix", strings.TrimPrefix(enc, "bcrypt:"), pw, false, ErrUnknownHashScheme},
		{"argon2id scheme", "argon2id:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", pw, false, ErrUnknownHashScheme},
		{"empty hash", "", pw, false, ErrUnknownHashScheme},
		{"upper-case prefix", "BCRYPT:" + strings.TrimPrefix(enc, "bcrypt:"), pw, false, ErrUnknownHashScheme},
		{"garbage after prefix", "bcrypt:not-a-hash", pw, false, ErrMalformedHash},
		{"truncated hash", enc[:30], pw, false, ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(tt.encoded, tt.pw)
			if ok != tt.ok || rehash || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, %v", ok, rehash, err, tt.ok, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), tt.pw) && tt.pw != "" {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

func TestHashRejectsInvalidPasswords(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, MinBcryptCost)
	for pw, want := range map[string]error{
		"short":                 ErrPasswordTooShort,
		strings.Repeat("x", 73): ErrPasswordTooLong,
		"nul\x00password":       ErrPasswordInvalid,
	} {
		if enc, err := h.Hash(pw); !errors.Is(err, want) || enc != "" {
			t.Errorf("Hash(%q) = %q, %v; want \"\", %v", pw, enc, err, want)
		}
	}
	if _, err := h.Hash(strings.Repeat("a", MaxPasswordBytes)); err != nil {
		t.Fatalf("Hash of exactly %d bytes: %v", MaxPasswordBytes, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	t.Parallel()
	low := newTestHasher(t, MinBcryptCost)
	high := newTestHasher(t, MinBcryptCost+1)
	const pw = "password-for-rehash"
	encLow, err := low.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	encHigh, err := high.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		h          *Hasher
		encoded    string
		pw         string
		ok, rehash bool
	}{
		{"stored cost below hasher's", high, encLow, pw, true, true},
		{"stored cost equal", low, encLow, pw, true, false},
		{"stored cost above hasher's", low, encHigh, pw, true, false},
		{"wrong password never asks for a rehash", high, encLow, "wrong-password", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := tt.h.Verify(tt.encoded, tt.pw)
			if err != nil || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.ok, tt.rehash)
			}
		})
	}
}

// countingHasher wraps h's comparison to count bcrypt comparisons and the
// hashes they were made against.
func countingHasher(h *Hasher) (*Hasher, *[]string) {
	var against []string
	c := *h
	c.compare = func(hash, pw []byte) error {
		against = append(against, string(hash))
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return &c, &against
}

func TestVerifyOverlongSpendsAComparison(t *testing.T) {
	t.Parallel()
	h, calls := countingHasher(newTestHasher(t, MinBcryptCost))
	pw72 := strings.Repeat("p", MaxPasswordBytes)
	enc, err := h.Hash(pw72)
	if err != nil {
		t.Fatal(err)
	}
	stored := strings.TrimPrefix(enc, "bcrypt:")
	for _, pw := range []string{pw72 + "x", pw72 + strings.Repeat("y", 1000)} {
		*calls = nil
		// The first 72 bytes are the real password: a truncating
		// implementation would say yes.
		ok, rehash, err := h.Verify(enc, pw)
		if ok || rehash || err != nil {
			t.Fatalf("Verify(over-long) = %v, %v, %v; want false, false, nil", ok, rehash, err)
		}
		if len(*calls) != 1 || (*calls)[0] != stored {
			t.Fatalf("over-long password made %d comparisons (%v), want 1 against the stored hash", len(*calls), *calls)
		}
	}
	*calls = nil
	if ok, _, _ := h.Verify(enc, pw72); !ok || len(*calls) != 1 {
		t.Fatalf("Verify(72 bytes) = %v with %d comparisons, want true with 1", ok, len(*calls))
	}
}

func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	h, calls := countingHasher(newTestHasher(t, MinBcryptCost))
	for _, pw := range []string{"", "some password", strings.Repeat("z", 200)} {
		*calls = nil
		h.VerifyDummy(pw)
		if len(*calls) != 1 || (*calls)[0] != string(h.dummy) {
			t.Fatalf("VerifyDummy(%d bytes) made comparisons %v, want one against the dummy hash", len(pw), *calls)
		}
	}
	// The dummy hash has the hasher's cost, so it costs what a real
	// Verify at that cost does.
	if c, err := bcrypt.Cost(h.dummy); err != nil || c != h.Cost() {
		t.Fatalf("dummy cost = %d, %v; want %d", c, err, h.Cost())
	}
	// And the dummy password is not a key to the dummy hash via Verify.
	if ok, _, _ := h.Verify("bcrypt:"+string(h.dummy), strings.Repeat("q", 100)); ok {
		t.Fatal("an over-long password verified against the dummy hash")
	}
}

func newTestHasher(t testing.TB, cost int) *Hasher {
	t.Helper()
	h, err := NewHasher(cost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func BenchmarkHash(b *testing.B) {
	for _, cost := range []int{MinBcryptCost, DefaultBcryptCost} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			h := newTestHasher(b, cost)
			for b.Loop() {
				if _, err := h.Hash("benchmark password"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
