package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

var (
	// ErrUnknownKey is returned by Open when no data key has the given id:
	// the key was pruned from the key file, or the file is not the one the
	// data was sealed with.
	ErrUnknownKey = errors.New("unknown data key")
	// ErrDecrypt is returned by Open when authentication fails: the
	// ciphertext was altered or truncated, the associated data differs, or
	// the key with that id is not the one that sealed it.
	ErrDecrypt = errors.New("decryption failed: wrong key, wrong associated data or corrupted ciphertext")
)

// Seal encrypts plaintext with AES-256-GCM under ks.Current, binding aad
// (for example the owning user's id, so a sealed secret cannot be moved to
// another row). The ciphertext is a random 12-byte nonce, the encrypted
// plaintext and the 16-byte tag; keyID is the id to store with it for Open.
func Seal(ks KeySet, plaintext, aad []byte) (ciphertext []byte, keyID string, err error) {
	if !validKeyID(ks.Current.ID) {
		return nil, "", errors.New("sealing: no usable data key")
	}
	aead, err := newAEAD(ks.Current)
	if err != nil {
		return nil, "", fmt.Errorf("sealing: %w", err)
	}
	return aead.Seal(nil, nil, plaintext, aad), ks.Current.ID, nil
}

// Open decrypts what Seal returned, with the key named keyID from ks
// (current or previous) and the same aad. An unknown keyID is
// ErrUnknownKey; any failure to authenticate is ErrDecrypt.
func Open(ks KeySet, ciphertext []byte, keyID string, aad []byte) ([]byte, error) {
	k, ok := ks.Lookup(keyID)
	if !ok {
		return nil, fmt.Errorf("%w %q: was it pruned from the key file?", ErrUnknownKey, keyID)
	}
	aead, err := newAEAD(k)
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	if len(ciphertext) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrDecrypt
	}
	plaintext, err := aead.Open(nil, nil, ciphertext, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// newAEAD returns AES-256-GCM with a random nonce prefixed to each
// ciphertext. Random 96-bit nonces stay safe for 2^32 messages per key,
// far beyond the number of TOTP secrets one deployment seals.
func newAEAD(k Key) (cipher.AEAD, error) {
	if len(k.Secret) != KeySize {
		return nil, fmt.Errorf("data key %q is %d bytes, want %d", k.ID, len(k.Secret), KeySize)
	}
	block, err := aes.NewCipher(k.Secret)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}
