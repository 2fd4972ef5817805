package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/store"
)

// SaveTOTPSecret implements store.TOTP in one statement: the upsert locks
// an existing row and replaces it only while it is not enabled; a missing
// user fails the foreign key.
func (s *Store) SaveTOTPSecret(ctx context.Context, userID string, ciphertext []byte, keyID string, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if len(ciphertext) == 0 || keyID == "" {
		return fmt.Errorf("%w: TOTP secret of user %q: ciphertext and key id are required", store.ErrInvalid, userID)
	}
	// last_step survives a new setup: it only ever grows.
	tag, err := s.pool.Exec(ctx, `INSERT INTO totp (user_id, secret_ciphertext, key_id, enabled, created_at)
		VALUES ($1, $2, $3, false, $4)
		ON CONFLICT (user_id) DO UPDATE SET
			secret_ciphertext = excluded.secret_ciphertext, key_id = excluded.key_id,
			created_at = excluded.created_at, enabled_at = NULL
		WHERE NOT totp.enabled`,
		userID, ciphertext, keyID, trunc(now))
	op := fmt.Sprintf("saving the TOTP secret of user %q", userID)
	switch {
	case isForeignKey(err):
		return fmt.Errorf("%s: %w: user %q", op, store.ErrNotFound, userID)
	case err != nil:
		return failed(op, err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("%s: %w: TOTP is enabled for user %q: disable it before a new setup", op, store.ErrConflict, userID)
	}
	return nil
}

// EnableTOTP implements store.TOTP. It locks the TOTP row before it
// changes the user's row (the order every TOTP method keeps).
func (s *Store) EnableTOTP(ctx context.Context, userID string, backupCodeHashes [][]byte, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	seen := make(map[string]bool, len(backupCodeHashes))
	for _, h := range backupCodeHashes {
		if len(h) == 0 || seen[string(h)] {
			return fmt.Errorf("%w: backup code hashes of user %q must be non-empty and distinct", store.ErrInvalid, userID)
		}
		seen[string(h)] = true
	}
	if backupCodeHashes == nil {
		backupCodeHashes = [][]byte{} // an empty array, not NULL
	}
	now = trunc(now)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT enabled FROM totp WHERE user_id = $1 FOR UPDATE`, userID).Scan(&enabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no pending TOTP secret for user %q", store.ErrNotFound, userID)
		}
		if err != nil {
			return err
		}
		if enabled {
			return fmt.Errorf("%w: TOTP is already enabled for user %q", store.ErrConflict, userID)
		}
		if _, err := tx.Exec(ctx, `UPDATE totp SET enabled = true, enabled_at = $2 WHERE user_id = $1`, userID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM backup_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO backup_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) AS h`,
			userID, backupCodeHashes); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET two_factor_enabled = true, updated_at = $2 WHERE id = $1`, userID, now)
		return err
	})
	if err != nil {
		return failed(fmt.Sprintf("enabling TOTP for user %q", userID), err)
	}
	return nil
}

// DisableTOTP implements store.TOTP: the TOTP row first, then the codes and
// the user's flag.
func (s *Store) DisableTOTP(ctx context.Context, userID string, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	now = trunc(now)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM totp WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM backup_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		// updated_at moves only when the flag does, as in the embedded store.
		var exists bool
		err := tx.QueryRow(ctx, `WITH u AS (
				UPDATE users SET two_factor_enabled = false, updated_at = $2 WHERE id = $1 AND two_factor_enabled RETURNING id
			)
			SELECT EXISTS (SELECT 1 FROM u) OR EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID, now).Scan(&exists)
		if err == nil && !exists {
			err = fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
		}
		return err
	})
	if err != nil {
		return failed(fmt.Sprintf("disabling TOTP for user %q", userID), err)
	}
	return nil
}

// TOTPState implements store.TOTP.
func (s *Store) TOTPState(ctx context.Context, userID string) (store.TOTPState, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var st store.TOTPState
	var enabledAt *time.Time
	err := s.pool.QueryRow(ctx, `SELECT user_id, secret_ciphertext, key_id, enabled, last_step, created_at, enabled_at,
			(SELECT count(*) FROM backup_codes b WHERE b.user_id = t.user_id AND NOT b.used)
		FROM totp t WHERE user_id = $1`, userID).
		Scan(&st.UserID, &st.SecretCiphertext, &st.KeyID, &st.Enabled, &st.LastStep, &st.CreatedAt, &enabledAt, &st.BackupCodesRemaining)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.TOTPState{}, fmt.Errorf("%w: TOTP state of user %q", store.ErrNotFound, userID)
	}
	if err != nil {
		return store.TOTPState{}, failed(fmt.Sprintf("reading the TOTP state of user %q", userID), err)
	}
	st.CreatedAt, st.EnabledAt = st.CreatedAt.UTC(), utcPtr(enabledAt)
	return st, nil
}

// AcceptStep implements store.TOTP with one conditional UPDATE: of two
// calls with the same step the second waits for the first's row lock, then
// finds last_step no longer smaller. The same statement tells a missing
// state from a replay.
func (s *Store) AcceptStep(ctx context.Context, userID string, step int64) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if step < 0 {
		return false, fmt.Errorf("%w: TOTP step %d is negative", store.ErrInvalid, step)
	}
	var accepted, exists bool
	err := s.pool.QueryRow(ctx, `WITH a AS (
			UPDATE totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2 RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM a), EXISTS (SELECT 1 FROM totp WHERE user_id = $1)`, userID, step).
		Scan(&accepted, &exists)
	if err != nil {
		return false, failed(fmt.Sprintf("accepting a TOTP step for user %q", userID), err)
	}
	if !accepted && !exists {
		return false, fmt.Errorf("accepting a TOTP step for user %q: %w: TOTP state of user %q", userID, store.ErrNotFound, userID)
	}
	return accepted, nil
}

// UseBackupCode implements store.TOTP with one conditional UPDATE: a
// concurrent use of the same code waits for the row and then finds it used.
func (s *Store) UseBackupCode(ctx context.Context, userID string, codeHash []byte) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if len(codeHash) == 0 {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE backup_codes SET used = true WHERE user_id = $1 AND code_hash = $2 AND NOT used`,
		userID, codeHash)
	if err != nil {
		return false, failed(fmt.Sprintf("using a backup code of user %q", userID), err)
	}
	return tag.RowsAffected() == 1, nil
}
