package store

import (
	"context"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store/migrate"
)

// Store is everything serve and the user commands keep: one interface,
// implemented by the embedded SQLite store and the shared PostgreSQL store.
type Store interface {
	Organisations
	Users
	TOTP
	RefreshTokens
	Lockouts
	AuditLog

	// Ping checks that the store answers (the readiness probe).
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// Migrator is implemented by stores with a schema: `repairxctl migrate
// up|status`, serve and the user commands use it.
type Migrator interface {
	// Migrate applies the pending migrations in order and returns them. It
	// refuses a database that holds migrations this binary does not know or
	// whose recorded checksum differs (migrate.ErrUnknownMigration,
	// migrate.ErrModified). Concurrent calls, also from other processes, are
	// safe: each migration is applied once.
	Migrate(ctx context.Context) ([]migrate.Migration, error)
	// MigrationStatus lists every known and every applied migration by
	// version, without changing the database.
	MigrationStatus(ctx context.Context) ([]migrate.State, error)
}

// Organisations are the customer organisations users belong to.
type Organisations interface {
	// CreateOrganisation stores org (name trimmed, id generated when empty,
	// CreatedAt required). A taken name is ErrConflict.
	CreateOrganisation(ctx context.Context, org Organisation) (Organisation, error)
	// EnsureOrganisation returns the organisation named name, creating it at
	// now if there is none; concurrent calls return the same organisation.
	EnsureOrganisation(ctx context.Context, name string, now time.Time) (Organisation, error)
	// OrganisationByID returns an organisation or ErrNotFound.
	OrganisationByID(ctx context.Context, id string) (Organisation, error)
	// OrganisationByName returns an organisation or ErrNotFound.
	OrganisationByName(ctx context.Context, name string) (Organisation, error)
	// ListOrganisations returns all organisations sorted by name in byte
	// order (as Go compares strings), whatever the database's collation.
	ListOrganisations(ctx context.Context) ([]Organisation, error)
}

// Users are the accounts.
type Users interface {
	// CreateUser stores u with its e-mail normalised and its id generated
	// when empty; UpdatedAt is set to CreatedAt and TwoFactorEnabled to false.
	// A taken e-mail (in any case) is ErrConflict, an unknown organisation
	// ErrNotFound, a user failing User.Validate ErrInvalid.
	CreateUser(ctx context.Context, u User) (User, error)
	// UserByID returns a user or ErrNotFound. It is the one read on the
	// authenticated hot path: a primary-key lookup.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user with this address (normalised first) or
	// ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns users matching f, sorted by e-mail in byte order,
	// which is also the order AfterEmail pages in.
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// CountUsers counts all users (serve's first-run hint).
	CountUsers(ctx context.Context) (int, error)
	// SetRole changes a user's role and returns the previous one (for the
	// audit event).
	SetRole(ctx context.Context, userID string, role Role, now time.Time) (previous Role, err error)
	// SetDisabled disables or re-enables a user. Disabling also revokes all
	// of the user's refresh tokens in the same transaction, so no session
	// outlives it by more than an access token's lifetime.
	SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error
	// SetPasswordHash replaces a user's password hash (a password change, or
	// a rehash with a newer algorithm at login). It revokes nothing: a caller
	// changing the password revokes the user's refresh tokens itself.
	SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error
}

// TOTP is the 2FA state: the encrypted secret, the last accepted time step
// and the hashed single-use backup codes.
type TOTP interface {
	// SaveTOTPSecret stores a pending (not yet enabled) secret for a user,
	// replacing an earlier pending one. The user must exist (ErrNotFound) and
	// must not have TOTP enabled (ErrConflict: disable it first). The last
	// accepted step is kept: it only ever grows, so no code is accepted twice.
	SaveTOTPSecret(ctx context.Context, userID string, ciphertext []byte, keyID string, now time.Time) error
	// EnableTOTP enables the pending secret and stores the backup codes'
	// hashes (distinct, non-empty), and sets User.TwoFactorEnabled, in one
	// transaction. No pending secret is ErrNotFound, TOTP already enabled
	// ErrConflict. Call it after AcceptStep accepted the verifying code.
	EnableTOTP(ctx context.Context, userID string, backupCodeHashes [][]byte, now time.Time) error
	// DisableTOTP removes the secret and the backup codes and clears
	// User.TwoFactorEnabled in one transaction (2FA disable, `user
	// reset-2fa`). A user without TOTP is no error; an unknown user is
	// ErrNotFound.
	DisableTOTP(ctx context.Context, userID string, now time.Time) error
	// TOTPState returns a user's TOTP state, or ErrNotFound when there is
	// none (never set up, or disabled).
	TOTPState(ctx context.Context, userID string) (TOTPState, error)
	// AcceptStep records step as the last accepted time step if it is later
	// than the stored one, atomically, and reports whether it did: false
	// means the code's step was already used (a replay) or is older. Pending
	// and enabled states alike; no state is ErrNotFound.
	AcceptStep(ctx context.Context, userID string, step int64) (bool, error)
	// UseBackupCode marks the user's unused backup code with this hash as
	// used, atomically, and reports whether there was one: each code works
	// once, also under concurrent logins.
	UseBackupCode(ctx context.Context, userID string, codeHash []byte) (bool, error)
}

// RefreshTokens are the stored (hashed) refresh tokens.
type RefreshTokens interface {
	// CreateRefreshToken stores a token issued at login; id and family are
	// generated when empty (a login starts a new family). An unknown user is
	// ErrNotFound, a hash already stored ErrConflict, a token failing
	// RefreshToken.Validate ErrInvalid.
	CreateRefreshToken(ctx context.Context, t RefreshToken) (RefreshToken, error)
	// RotateRefreshToken spends the token whose hash was presented and stores
	// next in its family, atomically. next needs TokenHash, ExpiresAt and
	// CreatedAt; its user, family and MFA flag are taken from the spent
	// token, its id generated when empty. The new token is returned.
	//
	// If the presented token was already used (ErrTokenReuse) or revoked
	// (ErrTokenRevoked), the whole family is revoked at now and that is
	// committed. An expired token (ExpiresAt <= now) is ErrTokenExpired and
	// changes nothing. With these three errors the presented token is
	// returned too, so the caller can audit its user and family. An unknown
	// hash is ErrNotFound; an invalid next (ErrInvalid) or a taken hash
	// (ErrConflict) leaves the presented token unspent. Of concurrent
	// rotations of one token exactly one succeeds.
	RotateRefreshToken(ctx context.Context, presentedHash []byte, next RefreshToken, now time.Time) (RefreshToken, error)
	// RefreshTokenByHash returns a token or ErrNotFound.
	RefreshTokenByHash(ctx context.Context, hash []byte) (RefreshToken, error)
	// ListRefreshTokens returns a user's stored tokens, newest first.
	ListRefreshTokens(ctx context.Context, userID string) ([]RefreshToken, error)
	// RevokeRefreshToken revokes one token (logout) and returns it; revoking
	// a revoked token keeps its first revocation time. Unknown is ErrNotFound.
	RevokeRefreshToken(ctx context.Context, hash []byte, now time.Time) (RefreshToken, error)
	// RevokeRefreshFamily revokes the family's unrevoked tokens and returns
	// how many it revoked.
	RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int, error)
	// RevokeUserRefreshTokens revokes all of a user's unrevoked tokens and
	// returns how many it revoked.
	RevokeUserRefreshTokens(ctx context.Context, userID string, now time.Time) (int, error)
	// DeleteExpiredRefreshTokens deletes tokens that expired at or before
	// now and returns how many.
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error)
	// RevokedFamilies returns the families with a token revoked at or after
	// since, each with its latest revocation time, ordered by family id: a
	// node starting with an empty in-memory revocation list rebuilds it from
	// them, so that a session logged out before a restart stays ended.
	RevokedFamilies(ctx context.Context, since time.Time) ([]RevokedFamily, error)
}

// Lockouts count failed logins. Keys are user ids, or any stable key the
// server picks (see Lockout); the store does not check them against users.
type Lockouts interface {
	// Lockout returns a key's state; a key without failures has the zero
	// state (with UserID set), not ErrNotFound.
	Lockout(ctx context.Context, userID string) (Lockout, error)
	// RecordFailure applies policy.Next to the key's state at now,
	// atomically, and returns the new state: concurrent failures are all
	// counted, and exactly one of them locks. An invalid policy is
	// ErrInvalid.
	RecordFailure(ctx context.Context, userID string, now time.Time, policy LockoutPolicy) (Lockout, error)
	// ClearFailures resets the failure count after a successful login. The
	// lockout count stays, so that repeated lockouts keep doubling.
	ClearFailures(ctx context.Context, userID string) error
	// Unlock removes all of a key's state (`user unlock`): the lock, the
	// failure count and the lockout count.
	Unlock(ctx context.Context, userID string) error
}

// AuditLog is the audit rows kept in the store.
type AuditLog interface {
	// AppendAudit stores an event. Timestamp and Action are required
	// (ErrInvalid); Details must marshal to JSON.
	AppendAudit(ctx context.Context, ev audit.Event) error
	// ListAudit returns the events matching f, newest first (ties in
	// insertion order reversed). f.Since and f.Until are compared with the
	// timestamps as stored, to the microsecond: every event returned has
	// Since <= Timestamp < Until. Details come back as decoded JSON (numbers
	// are float64).
	ListAudit(ctx context.Context, f AuditFilter) ([]audit.Event, error)
}

// Blobs are small named values every node shares, kept sealed by their
// owner (the store never sees plaintext): serve keeps its key ring here,
// encrypted under the key-encryption key, when several nodes share a store.
// Implemented by the stores; not part of Store so that a store without it
// stays usable on one node.
type Blobs interface {
	// Blob returns the value named name, or ErrNotFound.
	Blob(ctx context.Context, name string) ([]byte, error)
	// CreateBlob stores value under name if there is none yet and returns
	// the stored value: value, or the one a concurrent caller (another
	// node) stored first. Of concurrent creators exactly one wins and all
	// get its value.
	CreateBlob(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error)
	// ReplaceBlob swaps old for value atomically (compare and swap: a key
	// rotation on one node never loses another's). ErrConflict when the
	// stored value is not old, ErrNotFound when there is none.
	ReplaceBlob(ctx context.Context, name string, old, value []byte, now time.Time) error
}
