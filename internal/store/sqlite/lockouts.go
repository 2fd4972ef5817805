package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

func scanLockout(row scanner, userID string) (store.Lockout, error) {
	l := store.Lockout{UserID: userID}
	var until, last sql.NullInt64
	err := row.Scan(&l.FailedCount, &l.LockoutCount, &until, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return store.Lockout{}, err
	}
	l.LockedUntil, l.LastFailureAt = timeOrZero(until), timeOrZero(last)
	return l, nil
}

const lockoutQuery = `SELECT failed_count, lockout_count, locked_until, last_failure_at FROM lockouts WHERE user_id = ?`

// Lockout implements store.Lockouts.
func (s *Store) Lockout(ctx context.Context, userID string) (store.Lockout, error) {
	l, err := scanLockout(s.r.QueryRowContext(ctx, lockoutQuery, userID), userID)
	if err != nil {
		return store.Lockout{}, fmt.Errorf("reading the lockout state of %q: %w", userID, err)
	}
	return l, nil
}

// RecordFailure implements store.Lockouts: read, policy.Next, write, in one
// immediate transaction, so no concurrent failure is lost.
func (s *Store) RecordFailure(ctx context.Context, userID string, now time.Time, policy store.LockoutPolicy) (store.Lockout, error) {
	if err := policy.Validate(); err != nil {
		return store.Lockout{}, err
	}
	if userID == "" {
		return store.Lockout{}, fmt.Errorf("%w: lockout key is empty", store.ErrInvalid)
	}
	now = trunc(now)
	var l store.Lockout
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanLockout(tx.QueryRowContext(ctx, lockoutQuery, userID), userID)
		if err != nil {
			return err
		}
		if cur.Locked(now) {
			l = cur // Next would change nothing
			return nil
		}
		l = policy.Next(cur, now)
		_, err = tx.ExecContext(ctx, `INSERT INTO lockouts (user_id, failed_count, lockout_count, locked_until, last_failure_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET failed_count = excluded.failed_count, lockout_count = excluded.lockout_count,
				locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at`,
			userID, l.FailedCount, l.LockoutCount, nullMicrosZero(l.LockedUntil), nullMicrosZero(l.LastFailureAt))
		return err
	})
	if err != nil {
		return store.Lockout{}, fmt.Errorf("recording a failed login of %q: %w", userID, err)
	}
	return l, nil
}

// ClearFailures implements store.Lockouts.
func (s *Store) ClearFailures(ctx context.Context, userID string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE lockouts SET failed_count = 0 WHERE user_id = ? AND failed_count <> 0`, userID); err != nil {
		return fmt.Errorf("clearing the failed logins of %q: %w", userID, err)
	}
	return nil
}

// Unlock implements store.Lockouts.
func (s *Store) Unlock(ctx context.Context, userID string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM lockouts WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("unlocking %q: %w", userID, err)
	}
	return nil
}
