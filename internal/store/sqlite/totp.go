package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

func userExists(ctx context.Context, tx *sql.Tx, userID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
	}
	return err
}

// SaveTOTPSecret implements store.TOTP.
func (s *Store) SaveTOTPSecret(ctx context.Context, userID string, ciphertext []byte, keyID string, now time.Time) error {
	if len(ciphertext) == 0 || keyID == "" {
		return fmt.Errorf("%w: TOTP secret of user %q: ciphertext and key id are required", store.ErrInvalid, userID)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, userID); err != nil {
			return err
		}
		var enabled bool
		err := tx.QueryRowContext(ctx, `SELECT enabled FROM totp WHERE user_id = ?`, userID).Scan(&enabled)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if enabled {
			return fmt.Errorf("%w: TOTP is enabled for user %q: disable it before a new setup", store.ErrConflict, userID)
		}
		// last_step survives a new setup: it only ever grows.
		_, err = tx.ExecContext(ctx, `INSERT INTO totp (user_id, secret_ciphertext, key_id, enabled, created_at)
			VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (user_id) DO UPDATE SET
				secret_ciphertext = excluded.secret_ciphertext, key_id = excluded.key_id,
				created_at = excluded.created_at, enabled_at = NULL`,
			userID, ciphertext, keyID, micros(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving the TOTP secret of user %q: %w", userID, err)
	}
	return nil
}

// EnableTOTP implements store.TOTP.
func (s *Store) EnableTOTP(ctx context.Context, userID string, backupCodeHashes [][]byte, now time.Time) error {
	seen := make(map[string]bool, len(backupCodeHashes))
	for _, h := range backupCodeHashes {
		if len(h) == 0 || seen[string(h)] {
			return fmt.Errorf("%w: backup code hashes of user %q must be non-empty and distinct", store.ErrInvalid, userID)
		}
		seen[string(h)] = true
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var enabled bool
		err := tx.QueryRowContext(ctx, `SELECT enabled FROM totp WHERE user_id = ?`, userID).Scan(&enabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no pending TOTP secret for user %q", store.ErrNotFound, userID)
		}
		if err != nil {
			return err
		}
		if enabled {
			return fmt.Errorf("%w: TOTP is already enabled for user %q", store.ErrConflict, userID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE totp SET enabled = 1, enabled_at = ? WHERE user_id = ?`, micros(now), userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range backupCodeHashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO backup_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET two_factor_enabled = 1, updated_at = ? WHERE id = ?`, micros(now), userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("enabling TOTP for user %q: %w", userID, err)
	}
	return nil
}

// DisableTOTP implements store.TOTP.
func (s *Store) DisableTOTP(ctx context.Context, userID string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET two_factor_enabled = 0, updated_at = ? WHERE id = ? AND two_factor_enabled = 1`,
			micros(now), userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("disabling TOTP for user %q: %w", userID, err)
	}
	return nil
}

// TOTPState implements store.TOTP.
func (s *Store) TOTPState(ctx context.Context, userID string) (store.TOTPState, error) {
	var st store.TOTPState
	var created int64
	var enabledAt sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT user_id, secret_ciphertext, key_id, enabled, last_step, created_at, enabled_at,
			(SELECT count(*) FROM backup_codes b WHERE b.user_id = t.user_id AND b.used = 0)
		FROM totp t WHERE user_id = ?`, userID).
		Scan(&st.UserID, &st.SecretCiphertext, &st.KeyID, &st.Enabled, &st.LastStep, &created, &enabledAt, &st.BackupCodesRemaining)
	if errors.Is(err, sql.ErrNoRows) {
		return store.TOTPState{}, fmt.Errorf("%w: TOTP state of user %q", store.ErrNotFound, userID)
	}
	if err != nil {
		return store.TOTPState{}, fmt.Errorf("reading the TOTP state of user %q: %w", userID, err)
	}
	st.CreatedAt, st.EnabledAt = fromMicros(created), timePtr(enabledAt)
	return st, nil
}

// AcceptStep implements store.TOTP. One conditional UPDATE: SQLite runs it
// under the write lock, so of two calls with the same step one changes the
// row and the other finds last_step no longer smaller.
func (s *Store) AcceptStep(ctx context.Context, userID string, step int64) (bool, error) {
	if step < 0 {
		return false, fmt.Errorf("%w: TOTP step %d is negative", store.ErrInvalid, step)
	}
	var accepted bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := rowsAffected(tx.ExecContext(ctx, `UPDATE totp SET last_step = ? WHERE user_id = ? AND last_step < ?`,
			step, userID, step))
		if err != nil || n == 1 {
			accepted = n == 1
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM totp WHERE user_id = ?`, userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: TOTP state of user %q", store.ErrNotFound, userID)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("accepting a TOTP step for user %q: %w", userID, err)
	}
	return accepted, nil
}

// UseBackupCode implements store.TOTP.
func (s *Store) UseBackupCode(ctx context.Context, userID string, codeHash []byte) (bool, error) {
	if len(codeHash) == 0 {
		return false, nil
	}
	n, err := rowsAffected(s.w.ExecContext(ctx, `UPDATE backup_codes SET used = 1 WHERE user_id = ? AND code_hash = ? AND used = 0`,
		userID, codeHash))
	if err != nil {
		return false, fmt.Errorf("using a backup code of user %q: %w", userID, err)
	}
	return n == 1, nil
}
