package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyRingBlob is the name under which nodes sharing a store keep the key
// ring (see BlobStore).
const KeyRingBlob = "auth.keyring"

// keyRingAAD binds a sealed key ring to its purpose and format.
var keyRingAAD = []byte("repairxctl key ring v1")

// BlobStore is the part of the shared store the key ring lives in
// (store.Blobs implements it): values every node reads, created once.
type BlobStore interface {
	Blob(ctx context.Context, name string) ([]byte, error)
	CreateBlob(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error)
}

// ParseKEK reads a key-encryption key: 32 bytes, base64 (standard or URL
// alphabet, padding optional) or 64 hex digits. Generate one with
// `head -c 32 /dev/urandom | base64`.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	if len(s) == 2*KeySize {
		b := make([]byte, KeySize)
		ok := true
		for i := range b {
			var v byte
			if _, err := fmt.Sscanf(s[2*i:2*i+2], "%02x", &v); err != nil {
				ok = false
				break
			}
			b[i] = v
		}
		if ok {
			return b, nil
		}
	}
	return nil, errors.New("the key-encryption key must be 32 bytes, as base64 or 64 hex digits (generate one with: head -c 32 /dev/urandom | base64)")
}

// SealKeys encrypts k under kek (AES-256-GCM, random nonce) for the shared
// store.
func SealKeys(kek []byte, k *Keys) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("refusing to seal keys: %w", err)
	}
	plain, err := json.Marshal(keyFile{FormatVersion: KeyFileVersion, Signing: toFile(k.Signing), Data: toFile(k.Data)})
	if err != nil {
		return nil, err
	}
	aead, err := kekAEAD(kek)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plain, keyRingAAD), nil
}

// OpenKeys decrypts a key ring sealed by SealKeys. A wrong key-encryption
// key is an error that says so (and never shows key material).
func OpenKeys(kek, sealed []byte) (*Keys, error) {
	aead, err := kekAEAD(kek)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, sealed, keyRingAAD)
	if err != nil {
		return nil, errors.New("the shared key ring does not open with this key-encryption key: every node needs the same auth.key_encryption_key")
	}
	var kf keyFile
	if err := json.Unmarshal(plain, &kf); err != nil {
		return nil, fmt.Errorf("the shared key ring is corrupt (%s)", describeJSONError(err))
	}
	if kf.FormatVersion != KeyFileVersion {
		return nil, fmt.Errorf("the shared key ring has format_version %d; this repairxctl reads version %d", kf.FormatVersion, KeyFileVersion)
	}
	k := &Keys{Signing: fromFile(kf.Signing), Data: fromFile(kf.Data)}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("the shared key ring is corrupt: %v", err)
	}
	return k, nil
}

func kekAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(kek), KeySize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// LoadOrCreateSharedKeys reads the key ring from the shared store, or
// generates one and stores it; when several nodes start at once, one ring
// wins and all of them use it. created reports that this call's ring won.
func LoadOrCreateSharedKeys(ctx context.Context, bs BlobStore, kek []byte, now time.Time) (keys *Keys, created bool, err error) {
	sealed, err := bs.Blob(ctx, KeyRingBlob)
	if err == nil {
		k, err := OpenKeys(kek, sealed)
		return k, false, err
	}
	fresh, err := NewKeys(now)
	if err != nil {
		return nil, false, err
	}
	mine, err := SealKeys(kek, fresh)
	if err != nil {
		return nil, false, err
	}
	stored, err := bs.CreateBlob(ctx, KeyRingBlob, mine, now)
	if err != nil {
		return nil, false, fmt.Errorf("storing the shared key ring: %w", err)
	}
	k, err := OpenKeys(kek, stored)
	if err != nil {
		return nil, false, err
	}
	return k, string(stored) == string(mine), nil
}
