package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	ks := KeySet{Current: testKey("data1", 0x5a)}
	plaintext := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	aad := []byte("user:42")
	ct, id, err := Seal(ks, plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	if id != "data1" {
		t.Fatalf("key id = %q, want data1", id)
	}
	if len(ct) != len(plaintext)+12+16 {
		t.Fatalf("ciphertext is %d bytes, want nonce+plaintext+tag = %d", len(ct), len(plaintext)+28)
	}
	if bytes.Contains(ct, plaintext) {
		t.Fatal("ciphertext contains the plaintext")
	}
	ct2, _, _ := Seal(ks, plaintext, aad)
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals are identical: nonce is not random")
	}
	got, err := Open(ks, ct, id, aad)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if got, err := Open(ks, ct2, id, aad); err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("Open(second) = %q, %v", got, err)
	}

	empty, _, err := Seal(ks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(ks, empty, id, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty round trip = %q, %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	k1, k2 := testKey("data1", 0x5a), testKey("data2", 0x6b)
	ks := KeySet{Current: k1}
	plaintext := []byte("totp-secret-plaintext")
	aad := []byte("user:42")
	ct, id, err := Seal(ks, plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name string
		ks   KeySet
		ct   []byte
		id   string
		aad  []byte
		want error
	}{
		{"wrong aad", ks, ct, id, []byte("user:43"), ErrDecrypt},
		{"missing aad", ks, ct, id, nil, ErrDecrypt},
		{"flipped nonce byte", ks, flip(0), id, aad, ErrDecrypt},
		{"flipped body byte", ks, flip(14), id, aad, ErrDecrypt},
		{"flipped tag byte", ks, flip(len(ct) - 1), id, aad, ErrDecrypt},
		{"truncated by one", ks, ct[:len(ct)-1], id, aad, ErrDecrypt},
		{"shorter than nonce and tag", ks, ct[:27], id, aad, ErrDecrypt},
		{"empty", ks, nil, id, aad, ErrDecrypt},
		{"extended", ks, append(bytes.Clone(ct), 0), id, aad, ErrDecrypt},
		{"unknown key id", ks, ct, "data9", aad, ErrUnknownKey},
		{"empty key id", ks, ct, "", aad, ErrUnknownKey},
		{"key pruned after rotation", KeySet{Current: k2}, ct, id, aad, ErrUnknownKey},
		{"same id, other secret", KeySet{Current: testKey("data1", 0x7c)}, ct, id, aad, ErrDecrypt},
		{"id of another key", KeySet{Current: k2, Previous: []Key{k1}}, ct, "data2", aad, ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(tt.ks, tt.ct, tt.id, tt.aad)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			msg := err.Error()
			assertNoSecret(t, msg, k1.Secret, k2.Secret, testKey("", 0x7c).Secret)
			if strings.Contains(msg, string(plaintext)) {
				t.Fatal("error contains the plaintext")
			}
		})
	}
}

func TestOpenWithPreviousKey(t *testing.T) {
	k1, k2 := testKey("data1", 0x5a), testKey("data2", 0x6b)
	before := KeySet{Current: k1}
	ct, id, err := Seal(before, []byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	after := before.Rotate(k2)
	got, err := Open(after, ct, id, []byte("aad"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open with previous key = %q, %v", got, err)
	}
	// New seals use the new key.
	if _, id2, _ := Seal(after, []byte("secret"), nil); id2 != "data2" {
		t.Fatalf("seal after rotation used %q, want data2", id2)
	}
}

func TestSealRejectsBadKey(t *testing.T) {
	for name, ks := range map[string]KeySet{
		"zero key set":  {},
		"short secret":  {Current: Key{ID: "k", Secret: make([]byte, 16)}},
		"no id":         {Current: Key{Secret: make([]byte, KeySize)}},
		"AES-192 sized": {Current: Key{ID: "k", Secret: make([]byte, 24)}},
	} {
		if ct, id, err := Seal(ks, []byte("x"), nil); err == nil || ct != nil || id != "" {
			t.Errorf("%s: Seal succeeded", name)
		}
	}
	if _, err := Open(KeySet{Current: Key{ID: "k", Secret: make([]byte, 16)}}, make([]byte, 40), "k", nil); err == nil {
		t.Error("Open accepted a 16-byte key")
	}
}
