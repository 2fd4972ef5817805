package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

const tokenCols = `id, user_id, family_id, token_hash, mfa, expires_at, created_at, used_at, revoked_at`

func scanToken(row scanner) (store.RefreshToken, error) {
	var t store.RefreshToken
	var expires, created int64
	var used, revoked sql.NullInt64
	var mfa int
	if err := row.Scan(&t.ID, &t.UserID, &t.FamilyID, &t.TokenHash, &mfa, &expires, &created, &used, &revoked); err != nil {
		return store.RefreshToken{}, err
	}
	t.MFA = mfa == 1
	t.ExpiresAt, t.CreatedAt = fromMicros(expires), fromMicros(created)
	t.UsedAt, t.RevokedAt = timePtr(used), timePtr(revoked)
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

func insertToken(ctx context.Context, tx *sql.Tx, t store.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
		t.ID, t.UserID, t.FamilyID, t.TokenHash, boolInt(t.MFA), micros(t.ExpiresAt), micros(t.CreatedAt))
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
	t, err := prepareToken(t)
	if err != nil {
		return store.RefreshToken{}, err
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return insertToken(ctx, tx, t) }); err != nil {
		return store.RefreshToken{}, fmt.Errorf("storing a refresh token for user %q: %w", t.UserID, err)
	}
	return t, nil
}

// RotateRefreshToken implements store.RefreshTokens. The immediate
// transaction holds the write lock from the read of the presented token to
// the commit, so concurrent rotations of one token run one after another: the
// first marks it used, the others find it used.
func (s *Store) RotateRefreshToken(ctx context.Context, presentedHash []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	now = trunc(now)
	var presented, rotated store.RefreshToken
	var verdict error // a refusal that still commits (the family revocation)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		presented, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = ?`, presentedHash))
		if errors.Is(err, sql.ErrNoRows) {
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
			_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
				micros(now), presented.FamilyID)
			if err == nil && presented.RevokedAt == nil {
				presented.RevokedAt = &now
			}
			return err
		}

		next.UserID, next.FamilyID, next.MFA = presented.UserID, presented.FamilyID, presented.MFA
		if rotated, err = prepareToken(next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, micros(now), presented.ID); err != nil {
			return err
		}
		return insertToken(ctx, tx, rotated)
	})
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		return presented, err
	case err != nil:
		return store.RefreshToken{}, fmt.Errorf("rotating a refresh token: %w", err)
	case verdict != nil:
		return presented, verdict
	}
	return rotated, nil
}

// RefreshTokenByHash implements store.RefreshTokens.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%w: refresh token", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("reading a refresh token: %w", err)
	}
	return t, nil
}

// ListRefreshTokens implements store.RefreshTokens.
func (s *Store) ListRefreshTokens(ctx context.Context, userID string) ([]store.RefreshToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE user_id = ?
		ORDER BY created_at DESC, rowid DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing the refresh tokens of user %q: %w", userID, err)
	}
	defer rows.Close()
	tokens := []store.RefreshToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing the refresh tokens of user %q: %w", userID, err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the refresh tokens of user %q: %w", userID, err)
	}
	return tokens, nil
}

// RevokeRefreshToken implements store.RefreshTokens.
func (s *Store) RevokeRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	var t store.RefreshToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = ?`, hash))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: refresh token", store.ErrNotFound)
		}
		if err != nil || t.RevokedAt != nil {
			return err
		}
		now := trunc(now)
		t.RevokedAt = &now
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE id = ?`, micros(now), t.ID)
		return err
	})
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("revoking a refresh token: %w", err)
	}
	return t, nil
}

// RevokeRefreshFamily implements store.RefreshTokens.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	n, err := rowsAffected(s.w.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		micros(now), familyID))
	if err != nil {
		return 0, fmt.Errorf("revoking refresh token family %q: %w", familyID, err)
	}
	return n, nil
}

// RevokeUserRefreshTokens implements store.RefreshTokens.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID string, now time.Time) (int, error) {
	n, err := rowsAffected(s.w.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
		micros(now), userID))
	if err != nil {
		return 0, fmt.Errorf("revoking the refresh tokens of user %q: %w", userID, err)
	}
	return n, nil
}

// RevokedFamilies implements store.RefreshTokens.
func (s *Store) RevokedFamilies(ctx context.Context, since time.Time) ([]store.RevokedFamily, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT family_id, MAX(revoked_at) FROM refresh_tokens
		WHERE revoked_at >= ? GROUP BY family_id ORDER BY family_id`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("listing revoked sessions: %w", err)
	}
	defer rows.Close()
	fams := []store.RevokedFamily{}
	for rows.Next() {
		var f store.RevokedFamily
		var at int64
		if err := rows.Scan(&f.FamilyID, &at); err != nil {
			return nil, fmt.Errorf("listing revoked sessions: %w", err)
		}
		f.RevokedAt = fromMicros(at)
		fams = append(fams, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing revoked sessions: %w", err)
	}
	return fams, nil
}

// DeleteExpiredRefreshTokens implements store.RefreshTokens.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := rowsAffected(s.w.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= ?`, micros(now)))
	if err != nil {
		return 0, fmt.Errorf("deleting expired refresh tokens: %w", err)
	}
	return n, nil
}
