package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testKey returns a key with a recognisable secret (every byte b).
func testKey(id string, b byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{b}, KeySize), Created: testNow}
}

// assertNoSecret fails if s contains the key's secret in a common encoding.
func assertNoSecret(t *testing.T, s string, secrets ...[]byte) {
	t.Helper()
	for _, sec := range secrets {
		for _, form := range secretForms(sec) {
			if strings.Contains(s, form) {
				t.Fatalf("output contains secret material (%q): %s", form, s)
			}
		}
	}
}

// secretForms are the ways a secret could end up in a message.
func secretForms(sec []byte) []string {
	return []string{
		hex.EncodeToString(sec),
		base64.StdEncoding.EncodeToString(sec),
		base64.RawURLEncoding.EncodeToString(sec),
		strings.Trim(fmt.Sprint(sec), "[]"),
		fmt.Sprintf("%x", sec),
		fmt.Sprintf("%q", sec),
	}
}
