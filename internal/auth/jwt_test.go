package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testTokenConfig = TokenConfig{Issuer: "test-issuer", Audience: "test-audience", AccessTTL: 10 * time.Minute, Leeway: 30 * time.Second}

// oldKey signed tokens before a rotation; curKey signs them now.
var (
	oldKey  = testKey("oldkey", 0x11)
	curKey  = testKey("curkey", 0x22)
	dataKey = testKey("datakey", 0x33)
)

func rotatedKeys() *Keys {
	return &Keys{Signing: KeySet{Current: curKey, Previous: []Key{oldKey}}, Data: KeySet{Current: dataKey}}
}

func newTestTokens(signing KeySet) *Tokens {
	return NewTokens(NewStaticKeys(&Keys{Signing: signing, Data: KeySet{Current: dataKey}}), testTokenConfig)
}

var testClaims = AccessClaims{UserID: "user-1", Role: "admin", OrgID: "org-1", SessionID: "fam-1", MFA: true}

func TestIssueAndParseAccess(t *testing.T) {
	tokens := NewTokens(NewStaticKeys(rotatedKeys()), testTokenConfig)
	now := testNow.Add(123 * time.Millisecond) // sub-second part is dropped
	tok, exp, err := tokens.IssueAccess(testClaims, now)
	if err != nil {
		t.Fatal(err)
	}
	wantExp := testNow.Add(10 * time.Minute)
	if !exp.Equal(wantExp) {
		t.Fatalf("expires = %v, want %v", exp, wantExp)
	}

	// The wire format: header and claim names are part of the API.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header, payload map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &payload)
	if header["alg"] != "HS256" || header["kid"] != curKey.ID || header["typ"] != "JWT" {
		t.Fatalf("header = %v", header)
	}
	wantPayload := map[string]any{
		"sub": "user-1", "role": "admin", "org": "org-1", "sid": "fam-1", "mfa": true,
		"iss": "test-issuer", "aud": []any{"test-audience"},
		"iat": float64(testNow.Unix()), "nbf": float64(testNow.Unix()), "exp": float64(wantExp.Unix()),
	}
	for k, v := range wantPayload {
		if !jsonEqual(payload[k], v) {
			t.Errorf("claim %s = %v, want %v", k, payload[k], v)
		}
	}
	if jti, _ := payload["jti"].(string); len(jti) < 20 {
		t.Errorf("jti %q is too short to be random", jti)
	}

	got, err := tokens.ParseAccess(tok, testNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := testClaims
	want.ExpiresAt, want.IssuedAt, want.ID = wantExp, testNow, payload["jti"].(string)
	if got != want {
		t.Fatalf("ParseAccess = %+v\nwant %+v", got, want)
	}

	// Two tokens for the same claims differ in jti.
	tok2, _, _ := tokens.IssueAccess(testClaims, now)
	if tok2 == tok {
		t.Fatal("two tokens are identical: jti is not random")
	}
	// A given jti is kept.
	withID := testClaims
	withID.ID = "my-jti"
	tok3, _, _ := tokens.IssueAccess(withID, now)
	if c, err := tokens.ParseAccess(tok3, now); err != nil || c.ID != "my-jti" {
		t.Fatalf("jti = %q, %v; want my-jti", c.ID, err)
	}
}

func TestIssueAccessExpiry(t *testing.T) {
	tokens := newTestTokens(KeySet{Current: curKey})
	tests := []struct {
		name    string
		reqExp  time.Time
		wantExp time.Time
		wantErr bool
	}{
		{"zero takes the TTL", time.Time{}, testNow.Add(10 * time.Minute), false},
		{"earlier expiry shortens", testNow.Add(2 * time.Minute), testNow.Add(2 * time.Minute), false},
		{"later expiry is capped", testNow.Add(time.Hour), testNow.Add(10 * time.Minute), false},
		{"expiry now", testNow, time.Time{}, true},
		{"expiry in the past", testNow.Add(-time.Minute), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims
			c.ExpiresAt = tt.reqExp
			tok, exp, err := tokens.IssueAccess(c, testNow)
			if tt.wantErr {
				if err == nil || tok != "" {
					t.Fatalf("IssueAccess succeeded, want an error")
				}
				return
			}
			if err != nil || !exp.Equal(tt.wantExp) {
				t.Fatalf("IssueAccess = %v, %v; want %v", exp, err, tt.wantExp)
			}
			parsed, err := tokens.ParseAccess(tok, testNow)
			if err != nil || !parsed.ExpiresAt.Equal(tt.wantExp) {
				t.Fatalf("parsed exp = %v, %v", parsed.ExpiresAt, err)
			}
		})
	}
}

func TestIssueAccessErrors(t *testing.T) {
	tests := []struct {
		name string
		src  KeySource
		c    AccessClaims
	}{
		{"empty user id", NewStaticKeys(rotatedKeys()), AccessClaims{Role: "admin"}},
		{"nil keys", NewStaticKeys(nil), testClaims},
		{"no signing key", NewStaticKeys(&Keys{}), testClaims},
		{"short signing key", NewStaticKeys(&Keys{Signing: KeySet{Current: Key{ID: "k", Secret: []byte("short")}}}), testClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, _, err := NewTokens(tt.src, testTokenConfig).IssueAccess(tt.c, testNow); err == nil || tok != "" {
				t.Fatalf("IssueAccess = %q, %v; want an error", tok, err)
			}
		})
	}
}

func TestNewTokensDefaults(t *testing.T) {
	got := NewTokens(NewStaticKeys(rotatedKeys()), TokenConfig{Leeway: -time.Second}).Config()
	want := TokenConfig{Issuer: DefaultIssuer, Audience: DefaultAudience, AccessTTL: DefaultAccessTTL}
	if got != want {
		t.Fatalf("Config() = %+v, want %+v", got, want)
	}
}

// validMapClaims are claims ParseAccess accepts at testNow.
func validMapClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-1", "role": "admin", "org": "org-1", "sid": "fam-1", "mfa": true,
		"iss": testTokenConfig.Issuer, "aud": []string{testTokenConfig.Audience},
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix(),
		"jti": "jti-1",
	}
}

// signWith signs claims with method and key, with kid in the header when
// kid is not nil.
func signWith(t testing.TB, method jwt.SigningMethod, key any, kid any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != nil {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawToken builds header.payload.HMAC-SHA256(secret) by hand, for headers
// the library would not write.
func rawToken(t testing.TB, header map[string]any, claims jwt.MapClaims, secret []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func withClaim(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := validMapClaims()
	edit(c)
	return c
}

func TestParseAccessRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(NewStaticKeys(rotatedKeys()), testTokenConfig)
	hs := jwt.SigningMethodHS256
	sec := curKey.Secret
	valid := signWith(t, hs, sec, curKey.ID, validMapClaims())
	if _, err := tokens.ParseAccess(valid, testNow); err != nil {
		t.Fatalf("the baseline token is refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	exp := testNow.Add(10 * time.Minute)
	leeway := testTokenConfig.Leeway

	tests := []struct {
		name    string
		token   string
		now     time.Time
		expired bool
	}{
		{"alg none", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, curKey.ID, validMapClaims()), testNow, false},
		{"alg None with a signature", rawToken(t, map[string]any{"alg": "None", "kid": curKey.ID}, validMapClaims(), sec), testNow, false},
		{"alg missing", rawToken(t, map[string]any{"kid": curKey.ID, "typ": "JWT"}, validMapClaims(), sec), testNow, false},
		{"alg not a string", rawToken(t, map[string]any{"alg": 256, "kid": curKey.ID}, validMapClaims(), sec), testNow, false},
		{"RS256 signed with an RSA key", signWith(t, jwt.SigningMethodRS256, rsaKey, curKey.ID, validMapClaims()), testNow, false},
		{"RS256 header over an HMAC signature", rawToken(t, map[string]any{"alg": "RS256", "kid": curKey.ID}, validMapClaims(), sec), testNow, false},
		{"ES256 signed with an EC key", signWith(t, jwt.SigningMethodES256, ecKey, curKey.ID, validMapClaims()), testNow, false},
		{"PS256 signed with an RSA key", signWith(t, jwt.SigningMethodPS256, rsaKey, curKey.ID, validMapClaims()), testNow, false},
		{"HS384 with the right secret", signWith(t, jwt.SigningMethodHS384, sec, curKey.ID, validMapClaims()), testNow, false},
		{"HS512 with the right secret", signWith(t, jwt.SigningMethodHS512, sec, curKey.ID, validMapClaims()), testNow, false},
		{"no kid", signWith(t, hs, sec, nil, validMapClaims()), testNow, false},
		{"empty kid", signWith(t, hs, sec, "", validMapClaims()), testNow, false},
		{"kid not a string", signWith(t, hs, sec, 7, validMapClaims()), testNow, false},
		{"unknown kid", signWith(t, hs, sec, "nosuchkey", validMapClaims()), testNow, false},
		{"kid of the data key, signed with it", signWith(t, hs, dataKey.Secret, dataKey.ID, validMapClaims()), testNow, false},
		{"kid of the old key, signed with the current one", signWith(t, hs, sec, oldKey.ID, validMapClaims()), testNow, false},
		{"right kid, another secret", signWith(t, hs, []byte(strings.Repeat("x", 32)), curKey.ID, validMapClaims()), testNow, false},
		{"expired", valid, exp.Add(leeway + time.Second), true},
		{"expired at exp plus leeway exactly", valid, exp.Add(leeway), true},
		{"expired long ago", valid, exp.Add(24 * time.Hour), true},
		{"missing exp", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "exp") })), testNow, false},
		{"exp not a number", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), testNow, false},
		{"not valid yet", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() })), testNow, false},
		{"issued in the future", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Minute).Unix() })), testNow, false},
		{"before nbf and iat", valid, testNow.Add(-leeway - time.Second), false},
		{"wrong issuer", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["iss"] = "someone-else" })), testNow, false},
		{"missing issuer", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "iss") })), testNow, false},
		{"wrong audience", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["aud"] = []string{"other-api"} })), testNow, false},
		{"audience as a different string", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["aud"] = "other-api" })), testNow, false},
		{"missing audience", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "aud") })), testNow, false},
		{"missing sub", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "sub") })), testNow, false},
		{"missing jti", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "jti") })), testNow, false},
		{"missing iat", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { delete(c, "iat") })), testNow, false},
		{"role of the wrong type", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["role"] = []string{"admin"} })), testNow, false},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user-2","role":"admin","iss":"test-issuer","aud":["test-audience"],"iat":1,"exp":99999999999,"jti":"x"}`)) + "." + parts[2], testNow, false},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipChar(parts[2], 5), testNow, false},
		{"signature cut", parts[0] + "." + parts[1] + "." + parts[2][:40], testNow, false},
		{"signature missing", parts[0] + "." + parts[1] + ".", testNow, false},
		{"non-canonical signature encoding", parts[0] + "." + parts[1] + "." + nonCanonicalLast(parts[2]), testNow, false},
		{"padded signature", valid + "=", testNow, false},
		{"padded payload", parts[0] + "." + parts[1] + "=." + parts[2], testNow, false},
		{"over-long but validly signed", signWith(t, hs, sec, curKey.ID, withClaim(func(c jwt.MapClaims) { c["role"] = strings.Repeat("r", MaxTokenBytes) })), testNow, false},
		{"over-long garbage", strings.Repeat("a", MaxTokenBytes+1), testNow, false},
		{"empty", "", testNow, false},
		{"one dot", "a.b", testNow, false},
		{"four parts", valid + ".x", testNow, false},
		{"dots only", "..", testNow, false},
		{"Bearer prefix left on", "Bearer " + valid, testNow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tokens.ParseAccess(tt.token, tt.now)
			if err == nil {
				t.Fatalf("ParseAccess accepted it: %+v", c)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, does not wrap ErrInvalidToken", err)
			}
			if errors.Is(err, ErrTokenExpired) != tt.expired {
				t.Fatalf("err = %v; errors.Is(ErrTokenExpired) = %v, want %v", err, !tt.expired, tt.expired)
			}
			if c != (AccessClaims{}) {
				t.Fatalf("claims returned with an error: %+v", c)
			}
			assertNoSecret(t, err.Error(), curKey.Secret, oldKey.Secret, dataKey.Secret)
		})
	}
}

func TestParseAccessLeeway(t *testing.T) {
	tokens := newTestTokens(KeySet{Current: curKey})
	tok, exp, err := tokens.IssueAccess(testClaims, testNow)
	if err != nil {
		t.Fatal(err)
	}
	leeway := testTokenConfig.Leeway
	for _, now := range []time.Time{
		testNow,
		testNow.Add(-leeway),              // a node whose clock is behind
		exp.Add(-time.Second),             // last second of life
		exp,                               // past exp, within leeway
		exp.Add(leeway - time.Nanosecond), // the last instant of leeway
	} {
		if _, err := tokens.ParseAccess(tok, now); err != nil {
			t.Errorf("at %v: %v", now.Sub(testNow), err)
		}
	}
	strict := NewTokens(NewStaticKeys(&Keys{Signing: KeySet{Current: curKey}}), TokenConfig{Issuer: testTokenConfig.Issuer, Audience: testTokenConfig.Audience})
	if _, err := strict.ParseAccess(tok, exp); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("without leeway at exp: %v, want ErrTokenExpired", err)
	}
}

func TestParseAccessAcrossRotation(t *testing.T) {
	before := newTestTokens(KeySet{Current: oldKey})
	tok, _, err := before.IssueAccess(testClaims, testNow)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		signing KeySet
		ok      bool
	}{
		{"before rotation", KeySet{Current: oldKey}, true},
		{"after rotation: previous key still accepted", KeySet{Current: curKey, Previous: []Key{oldKey}}, true},
		{"after two rotations", KeySet{Current: testKey("newest", 0x44), Previous: []Key{curKey, oldKey}}, true},
		{"old key pruned: unknown kid refused", KeySet{Current: curKey}, false},
		{"same kid, secret replaced", KeySet{Current: testKey(oldKey.ID, 0x55)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newTestTokens(tt.signing).ParseAccess(tok, testNow)
			if tt.ok && (err != nil || c.UserID != testClaims.UserID) {
				t.Fatalf("ParseAccess = %+v, %v; want accepted", c, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseAccess = %+v, %v; want ErrInvalidToken", c, err)
			}
		})
	}
	// New tokens after rotation carry the new kid.
	tok2, _, _ := newTestTokens(KeySet{Current: curKey, Previous: []Key{oldKey}}).IssueAccess(testClaims, testNow)
	var header map[string]any
	decodeSegment(t, strings.Split(tok2, ".")[0], &header)
	if header["kid"] != curKey.ID {
		t.Fatalf("kid after rotation = %v, want %s", header["kid"], curKey.ID)
	}
}

func TestParseAccessOtherDeployment(t *testing.T) {
	ours := newTestTokens(KeySet{Current: curKey})
	theirs := NewTokens(NewStaticKeys(&Keys{Signing: KeySet{Current: curKey}}), TokenConfig{Issuer: "other", Audience: testTokenConfig.Audience})
	tok, _, err := theirs.IssueAccess(testClaims, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ours.ParseAccess(tok, testNow); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of another issuer: %v, want ErrInvalidToken", err)
	}
}

func TestParseAccessNoKeys(t *testing.T) {
	tok, _, _ := newTestTokens(KeySet{Current: curKey}).IssueAccess(testClaims, testNow)
	if _, err := NewTokens(NewStaticKeys(nil), testTokenConfig).ParseAccess(tok, testNow); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("nil keys: %v, want ErrInvalidToken", err)
	}
}

// flipChar replaces the character at i by another of the base64url
// alphabet.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// nonCanonicalLast sets the unused low bits of the last character of an
// unpadded base64url string of 32 bytes, which lenient decoders ignore.
func nonCanonicalLast(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// fuzzNow is the fixed time of the fuzz target.
var fuzzNow = testNow

func FuzzParseAccess(f *testing.F) {
	tokens := NewTokens(NewStaticKeys(rotatedKeys()), testTokenConfig)
	issued := map[string]AccessClaims{}
	for i, signing := range []KeySet{{Current: curKey}, {Current: oldKey}} {
		// Deterministic tokens (fixed jti): every fuzz worker process runs
		// this setup and must build the same set.
		c := testClaims
		c.SessionID = string(rune('a' + i))
		c.ID = "fuzz-jti-" + c.SessionID
		tok, _, err := newTestTokens(signing).IssueAccess(c, fuzzNow)
		if err != nil {
			f.Fatal(err)
		}
		parsed, err := tokens.ParseAccess(tok, fuzzNow)
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = parsed
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1] + "." + nonCanonicalLast(parts[2]))
	}
	f.Add(signWith(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, curKey.ID, validMapClaims()))
	f.Add(rawToken(f, map[string]any{"alg": "none", "kid": curKey.ID}, validMapClaims(), nil))
	f.Add(rawToken(f, map[string]any{"alg": "RS256", "kid": curKey.ID}, validMapClaims(), curKey.Secret))
	f.Add(rawToken(f, map[string]any{"alg": "HS256", "kid": "nosuchkey"}, validMapClaims(), curKey.Secret))
	f.Add(rawToken(f, map[string]any{"alg": "HS256", "kid": curKey.ID}, jwt.MapClaims{"exp": 1e300, "iat": -1e300, "aud": []any{1, nil}}, []byte("guess")))
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJ.eyJ.", "\x00", strings.Repeat("A", MaxTokenBytes+1)} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.ParseAccess(token, fuzzNow)
		want, ours := issued[token]
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if ours {
				t.Fatalf("a token we issued was refused: %v", err)
			}
			return
		}
		if !ours {
			t.Fatalf("accepted a token we did not issue: %q -> %+v", token, c)
		}
		if c != want {
			t.Fatalf("claims %+v, want %+v", c, want)
		}
	})
}

func BenchmarkParseAccess(b *testing.B) {
	tokens := NewTokens(NewStaticKeys(rotatedKeys()), testTokenConfig)
	tok, _, err := tokens.IssueAccess(testClaims, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.ParseAccess(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueAccess(b *testing.B) {
	tokens := NewTokens(NewStaticKeys(rotatedKeys()), testTokenConfig)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tokens.IssueAccess(testClaims, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
