package store

import "errors"

// Sentinel errors. Implementations wrap them with context (which entity, which
// field) and callers test with errors.Is.
var (
	// ErrNotFound: no such organisation, user, TOTP state or refresh token.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value is taken (e-mail, organisation name, token
	// hash), or the state does not allow the change (enabling TOTP twice).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule of the domain (an empty e-mail, an
	// unknown role, a zero timestamp).
	ErrInvalid = errors.New("invalid")
	// ErrTokenReuse: a refresh token that was already rotated was presented
	// again. Its whole family has been revoked; audit it as a likely theft.
	ErrTokenReuse = errors.New("refresh token reuse")
	// ErrTokenRevoked: a revoked (logged out, disabled user) refresh token was
	// presented. Its family has been revoked too.
	ErrTokenRevoked = errors.New("refresh token revoked")
	// ErrTokenExpired: the refresh token is past its expiry.
	ErrTokenExpired = errors.New("refresh token expired")
)
