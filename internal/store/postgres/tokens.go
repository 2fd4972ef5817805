package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/repairx/repairxctl/internal/store"
)

const tokenCols = `id, user_id, family_id, token_hash, mfa, expires_at, created_at, used_at, revoked_at`

func scanToken(row pgx.Row) (store.RefreshToken, error) {
	var t store.RefreshToken
	var used, revoked *time.Time
	if err := row.Scan(&t.ID, &t.UserID, &t.FamilyID, &t.TokenHash, &t.MFA, &t.ExpiresAt, &t.CreatedAt, &used, &revoked); err != nil {
		return store.RefreshToken{}, err
	}
	t.ExpiresAt, t.CreatedAt = t.ExpiresAt.UTC(), t.CreatedAt.UTC()
	t.UsedAt, t.RevokedAt = utcPtr(used), utcPtr(revoked)
	return t, nil
}

func prepareToken(t store.RefreshToken) (store.RefreshToken, error) {
	if t.ID == "" {
		t.ID = store.NewID()
	}
	if t.FamilyID == "" {
		t.FamilyID = store.NewID()
	}
	t.CreatedAt, t.ExpiresAt = trunc(t.CreatedAt), trunc(t.ExpiresAt)
	t.UsedAt, t.RevokedAt = nil, nil
	return t, t.Validate()
}

// execer is the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertToken(ctx context.Context, q execer, t store.RefreshToken) error {
	_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)`,
		t.ID, t.UserID, t.FamilyID, t.TokenHash, t.MFA, t.ExpiresAt, t.CreatedAt)
	switch {
	case isUnique(err):
		return fmt.Errorf("%w: refresh token hash or id already stored", store.ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("%w: user %q", store.ErrNotFound, t.UserID)
	}
	return err
}

// CreateRefreshToken implements store.RefreshTokens.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) (store.RefreshToken, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	t, err := prepareToken(t)
	if err != nil {
		return store.RefreshToken{}, err
	}
	if err := insertToken(ctx, s.pool, t); err != nil {
		return store.RefreshToken{}, failed(fmt.Sprintf("storing a refresh token for user %q", t.UserID), err)
	}
	return t, nil
}

// lockUserOfToken locks the row of the user who owns the token with this
// hash (see the package documentation: a user's row is the lock of the
// user's tokens) and reports whether there is such a token.
func lockUserOfToken(ctx context.Context, tx pgx.Tx, hash []byte) (bool, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM users
		WHERE id = (SELECT user_id FROM refresh_tokens WHERE token_hash = $1)
		FOR NO KEY UPDATE`, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// RotateRefreshToken implements store.RefreshTokens. It locks the owner's
// row, then the presented token's: concurrent rotations of one token run
// one after another, the first spends it and the others find it used
// (ErrTokenReuse, never a serialization error), and a revocation of the
// family or the user waits for the rotation and then sees its new token.
func (s *Store) RotateRefreshToken(ctx context.Context, presentedHash []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	now = trunc(now)
	var presented, rotated store.RefreshToken
	var verdict error // a refusal that still commits (the family revocation)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		presented, rotated, verdict = store.RefreshToken{}, store.RefreshToken{}, nil
		found, err := lockUserOfToken(ctx, tx, presentedHash)
		if err != nil {
			return err
		}
		if found {
			presented, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, presentedHash))
		}
		if !found || errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: refresh token", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch {
		case presented.UsedAt != nil:
			verdict = fmt.Errorf("%w: token %s of family %s was already used at %s", store.ErrTokenReuse,
				presented.ID, presented.FamilyID, presented.UsedAt.Format(time.RFC3339))
		case presented.RevokedAt != nil:
			verdict = fmt.Errorf("%w: token %s of family %s", store.ErrTokenRevoked, presented.ID, presented.FamilyID)
		case !now.Before(presented.ExpiresAt):
			return fmt.Errorf("%w: token %s expired at %s", store.ErrTokenExpired, presented.ID, presented.ExpiresAt.Format(time.RFC3339))
		}
		if verdict != nil {
			_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`,
				presented.FamilyID, now)
			if err == nil && presented.RevokedAt == nil {
				presented.RevokedAt = &now
			}
			return err
		}

		next.UserID, next.FamilyID, next.MFA = presented.UserID, presented.FamilyID, presented.MFA
		if rotated, err = prepareToken(next); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE id = $1`, presented.ID, now); err != nil {
			return err
		}
		return insertToken(ctx, tx, rotated)
	})
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		return presented, fmt.Errorf("rotating a refresh token: %w", err)
	case err != nil:
		return store.RefreshToken{}, failed("rotating a refresh token", err)
	case verdict != nil:
		return presented, verdict
	}
	return rotated, nil
}

// RefreshTokenByHash implements store.RefreshTokens.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("%w: refresh token", store.ErrNotFound)
	}
	if err != nil {
		return t, failed("reading a refresh token", err)
	}
	return t, nil
}

// ListRefreshTokens implements store.RefreshTokens: newest first, ties in
// insertion order reversed.
func (s *Store) ListRefreshTokens(ctx context.Context, userID string) ([]store.RefreshToken, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	op := fmt.Sprintf("listing the refresh tokens of user %q", userID)
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE user_id = $1
		ORDER BY created_at DESC, seq DESC`, userID)
	if err != nil {
		return nil, failed(op, err)
	}
	tokens, err := collect(rows, scanToken)
	if err != nil {
		return nil, failed(op, err)
	}
	return tokens, nil
}

// RevokedFamilies implements store.RefreshTokens.
func (s *Store) RevokedFamilies(ctx context.Context, since time.Time) ([]store.RevokedFamily, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	const op = "listing revoked sessions"
	rows, err := s.pool.Query(ctx, `SELECT family_id, max(revoked_at) FROM refresh_tokens
		WHERE revoked_at >= $1 GROUP BY family_id ORDER BY family_id`, trunc(since))
	if err != nil {
		return nil, failed(op, err)
	}
	fams, err := collect(rows, func(r pgx.Row) (store.RevokedFamily, error) {
		var f store.RevokedFamily
		err := r.Scan(&f.FamilyID, &f.RevokedAt)
		f.RevokedAt = f.RevokedAt.UTC()
		return f, err
	})
	if err != nil {
		return nil, failed(op, err)
	}
	return fams, nil
}

// RevokeRefreshToken implements store.RefreshTokens in one statement,
// keeping the first revocation time.
func (s *Store) RevokeRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	t, err := scanToken(s.pool.QueryRow(ctx, `UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, $2)
		WHERE token_hash = $1 RETURNING `+tokenCols, hash, trunc(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.RefreshToken{}, fmt.Errorf("revoking a refresh token: %w: refresh token", store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, failed("revoking a refresh token", err)
	}
	return t, nil
}

// RevokeRefreshFamily implements store.RefreshTokens. It locks the
// family's user first, so that a rotation in the family either commits
// before (and its token is revoked too) or runs after and finds its
// presented token revoked.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	now = trunc(now)
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM users
			WHERE id = (SELECT user_id FROM refresh_tokens WHERE family_id = $1 LIMIT 1)
			FOR NO KEY UPDATE`, familyID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no such family
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, familyID, now)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, failed(fmt.Sprintf("revoking refresh token family %q", familyID), err)
	}
	return n, nil
}

// RevokeUserRefreshTokens implements store.RefreshTokens, under the user's
// row lock like RevokeRefreshFamily.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID string, now time.Time) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	now = trunc(now)
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no user, so no tokens
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, failed(fmt.Sprintf("revoking the refresh tokens of user %q", userID), err)
	}
	return n, nil
}

// DeleteExpiredRefreshTokens implements store.RefreshTokens. A stored
// expiry is a whole microsecond, so "at or before now" is "at or before now
// truncated".
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= $1`, trunc(now))
	if err != nil {
		return 0, failed("deleting expired refresh tokens", err)
	}
	return int(tag.RowsAffected()), nil
}
