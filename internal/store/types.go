package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Organisation is a customer organisation; every user belongs to one.
type Organisation struct {
	ID        string
	Name      string // unique, trimmed
	CreatedAt time.Time
}

// User is an account.
type User struct {
	ID    string
	OrgID string
	// Email is unique and normalised (NormaliseEmail).
	Email string
	// PasswordHash is the encoded hash with its algorithm prefix; the store
	// treats it as opaque.
	PasswordHash string `json:"-"`
	Role         Role
	Disabled     bool
	// TwoFactorEnabled mirrors TOTPState.Enabled, kept in step by the TOTP
	// methods, so that the per-request user read carries it.
	TwoFactorEnabled bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", u.ID),
		slog.String("org_id", u.OrgID),
		slog.String("email", u.Email),
		slog.String("role", string(u.Role)),
		slog.Bool("disabled", u.Disabled),
		slog.Bool("two_factor_enabled", u.TwoFactorEnabled),
	)
}

// TOTPState is a user's TOTP enrolment: pending after setup, enabled after
// the first code was verified.
type TOTPState struct {
	UserID string
	// SecretCiphertext is the TOTP secret sealed with AES-256-GCM under the
	// data key named by KeyID; the store never sees the secret.
	SecretCiphertext []byte
	KeyID            string
	Enabled          bool
	// LastStep is the last accepted TOTP time step; a code for this step or
	// an earlier one is a replay.
	LastStep int64
	// BackupCodesRemaining counts the unused backup codes.
	BackupCodesRemaining int
	CreatedAt            time.Time
	EnabledAt            *time.Time
}

// RefreshToken is a stored refresh token. The opaque value handed to the
// client is never stored, only its SHA-256 (HashToken).
type RefreshToken struct {
	ID     string
	UserID string
	// FamilyID groups the tokens of one login: each rotation stays in the
	// family, and reuse of a spent token revokes all of it.
	FamilyID  string
	TokenHash []byte
	// MFA records that the session (the family) was started with a second
	// factor; rotation carries it to the next token, whatever the next
	// token says.
	MFA       bool
	ExpiresAt time.Time
	CreatedAt time.Time
	// UsedAt is set when the token was rotated.
	UsedAt *time.Time
	// RevokedAt is set on logout, family revocation or when the user is
	// disabled.
	RevokedAt *time.Time
}

// Active reports whether the token can still be rotated at now.
func (t RefreshToken) Active(now time.Time) bool {
	return t.UsedAt == nil && t.RevokedAt == nil && now.Before(t.ExpiresAt)
}

// Lockout is the brute-force state of one key: a user id, or whatever stable
// key the server chooses for logins of unknown e-mail addresses. The store
// does not check that a user with this id exists, so that answering for an
// unknown address can look exactly like answering for a known one.
type Lockout struct {
	UserID string
	// FailedCount counts failures since the last lockout or success.
	FailedCount int
	// LockedUntil is when the current or last lock ends; zero if never locked.
	LockedUntil time.Time
	// LockoutCount counts the lockouts so far; the next one lasts
	// LockoutPolicy.LockDuration(LockoutCount). Only Unlock resets it.
	LockoutCount int
	// LastFailureAt is the time of the last counted failure; zero if none.
	LastFailureAt time.Time
}

// Locked reports whether logins are refused at now.
func (l Lockout) Locked(now time.Time) bool { return now.Before(l.LockedUntil) }

// RevokedFamily is a refresh-token family (a session) with a revoked token.
type RevokedFamily struct {
	FamilyID  string
	RevokedAt time.Time // the latest revocation in the family
}

// LockoutPolicy says when failed logins lock an account and for how long.
type LockoutPolicy struct {
	// Threshold failures in a row lock the account.
	Threshold int
	// BaseLock is the first lock's length; each later lock doubles it.
	BaseLock time.Duration
	// MaxLock caps a lock's length; 0 means no cap.
	MaxLock time.Duration
	// Window, when set, forgets failures: a failure more than Window after
	// the previous one starts the count again, so a typo a month ago does
	// not count towards today's lock. 0 keeps failures until a success.
	Window time.Duration
	// ForgetLockouts, when set, forgets earlier lockouts once the last lock
	// ended more than this long ago, so the doubling starts again. 0
	// remembers them until Unlock.
	ForgetLockouts time.Duration
}

// Validate reports a policy that cannot work.
func (p LockoutPolicy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("%w: lockout threshold %d: must be at least 1", ErrInvalid, p.Threshold)
	case p.BaseLock <= 0:
		return fmt.Errorf("%w: lockout duration %s: must be positive", ErrInvalid, p.BaseLock)
	case p.MaxLock < 0 || (p.MaxLock > 0 && p.MaxLock < p.BaseLock):
		return fmt.Errorf("%w: maximum lockout %s: must be 0 or at least %s", ErrInvalid, p.MaxLock, p.BaseLock)
	case p.Window < 0 || p.ForgetLockouts < 0:
		return fmt.Errorf("%w: lockout window and forget time must not be negative", ErrInvalid)
	}
	return nil
}

// LockDuration is the length of a lock after lockouts earlier ones:
// BaseLock * 2^lockouts, capped at MaxLock and never overflowing.
func (p LockoutPolicy) LockDuration(lockouts int) time.Duration {
	const maxDuration = time.Duration(1<<63 - 1)
	d := p.BaseLock
	for range max(lockouts, 0) {
		if (p.MaxLock > 0 && d >= p.MaxLock) || d > maxDuration/2 {
			if p.MaxLock == 0 {
				d = maxDuration
			}
			break
		}
		d *= 2
	}
	if p.MaxLock > 0 && d > p.MaxLock {
		d = p.MaxLock
	}
	return d
}

// Next is the state after a failed login at now: the transition every
// implementation of RecordFailure applies atomically. A failure while locked
// changes nothing (the server refuses before it checks the password, and a
// locked account must not be extendable by an attacker). The failure that
// reaches the threshold locks for LockDuration(LockoutCount), counts the
// lockout and starts the failure count again.
func (p LockoutPolicy) Next(l Lockout, now time.Time) Lockout {
	if l.Locked(now) {
		return l
	}
	if p.Window > 0 && !l.LastFailureAt.IsZero() && now.Sub(l.LastFailureAt) > p.Window {
		l.FailedCount = 0
	}
	if p.ForgetLockouts > 0 && !l.LockedUntil.IsZero() && now.Sub(l.LockedUntil) > p.ForgetLockouts {
		l.LockoutCount = 0
	}
	l.FailedCount++
	l.LastFailureAt = now
	if l.FailedCount >= p.Threshold {
		l.LockedUntil = now.Add(p.LockDuration(l.LockoutCount))
		l.LockoutCount++
		l.FailedCount = 0
	}
	return l
}

// UserFilter selects users for ListUsers. Users come sorted by e-mail, in
// byte order.
type UserFilter struct {
	OrgID string // "" for all organisations
	Role  Role   // "" for all roles
	// AfterEmail continues a listing after this address (keyset paging:
	// pass the last e-mail of the previous page).
	AfterEmail string
	Limit      int // <= 0 for no limit
}

// AuditFilter selects audit events for ListAudit. Events come newest first.
type AuditFilter struct {
	UserID string    // "" for all
	Action string    // "" for all
	Since  time.Time // inclusive; zero for no lower bound
	Until  time.Time // exclusive; zero for no upper bound
	Limit  int       // <= 0 for no limit
}

// NewID returns a random UUID (version 4), the form of every generated id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// HashToken returns the SHA-256 of an opaque refresh token, the form the
// store keeps and looks tokens up by. (A fast hash suffices: the tokens are
// 256-bit random values, not guessable secrets.)
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// NormaliseEmail returns the stored form of an e-mail address: trimmed and
// lower-cased, so that lookups ignore case.
func NormaliseEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateEmail checks a normalised address: valid UTF-8, at most 254 bytes,
// no spaces or control characters, and a non-empty local part and domain.
func ValidateEmail(email string) error {
	bad := func(why string) error { return fmt.Errorf("%w: e-mail address %q: %s", ErrInvalid, email, why) }
	if email == "" {
		return fmt.Errorf("%w: e-mail address is empty", ErrInvalid)
	}
	if len(email) > 254 || !utf8.ValidString(email) {
		return bad("longer than 254 bytes or not UTF-8")
	}
	if strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad("contains a space or control character")
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return bad("want local@domain")
	}
	return nil
}

// Validate checks a user before it is stored; call it after normalising the
// e-mail address and filling the id.
func (u User) Validate() error {
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	switch {
	case u.ID == "":
		return fmt.Errorf("%w: user id is empty", ErrInvalid)
	case u.OrgID == "":
		return fmt.Errorf("%w: user %s: organisation is empty", ErrInvalid, u.Email)
	case !u.Role.Valid():
		return fmt.Errorf("%w: user %s: unknown role %q", ErrInvalid, u.Email, u.Role)
	case u.PasswordHash == "":
		return fmt.Errorf("%w: user %s: password hash is empty", ErrInvalid, u.Email)
	case u.CreatedAt.IsZero():
		return fmt.Errorf("%w: user %s: creation time is zero", ErrInvalid, u.Email)
	}
	return nil
}

// Validate checks a refresh token before it is stored.
func (t RefreshToken) Validate() error {
	switch {
	case t.ID == "" || t.FamilyID == "":
		return fmt.Errorf("%w: refresh token id or family is empty", ErrInvalid)
	case t.UserID == "":
		return fmt.Errorf("%w: refresh token user is empty", ErrInvalid)
	case len(t.TokenHash) != sha256.Size:
		return fmt.Errorf("%w: refresh token hash is %d bytes, want a SHA-256 (%d)", ErrInvalid, len(t.TokenHash), sha256.Size)
	case t.CreatedAt.IsZero() || !t.ExpiresAt.After(t.CreatedAt):
		return fmt.Errorf("%w: refresh token must expire after it is created", ErrInvalid)
	}
	return nil
}
