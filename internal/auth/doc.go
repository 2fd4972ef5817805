// Package auth holds the cryptographic and token primitives of `repairxctl
// serve`: password hashing, the local key store, access tokens (JWT),
// refresh tokens, TOTP and backup codes, and the sealing of secrets at rest.
// It knows nothing about HTTP or the store; internal/server wires it up.
//
// # Conventions
//
//   - Nothing here reads the clock: times come from the caller (the now
//     arguments), so the server's clock and the tests decide.
//   - Error messages never contain secrets, passwords, codes, tokens, hashes
//     or key material. Failures a client could cause are sentinel errors
//     (ErrInvalidToken, ErrPasswordTooShort, ...) tested with errors.Is;
//     callers answer them without detail.
//   - Comparisons of secrets are constant-time. Checks whose timing could
//     tell an attacker something (unknown user versus wrong password,
//     over-long password) spend the same work either way.
//   - Every exported type is safe for concurrent use once built; values
//     handed out by a KeySource are never mutated.
//
// # Formats that outlive a release
//
// Stored password hashes are "bcrypt:" followed by the standard modular
// crypt string ("$2a$12$..."); the prefix names the algorithm so that an
// argon2id scheme can be added later and told apart without guessing.
//
// The key file (LoadOrCreateKeys) is JSON with a format_version; see
// keys.go for the layout and the rotation rule. Sealed data (Seal) is
// nonce || AES-256-GCM ciphertext || tag, stored next to the id of the key
// that sealed it.
//
// Refresh tokens and backup codes are stored as SHA-256 digests only: both
// carry at least 80 bits of randomness, so a slow hash adds nothing and a
// fast one keeps lookups by hash possible.
package auth
