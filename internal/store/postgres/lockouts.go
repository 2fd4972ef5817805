package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/store"
)

const lockoutCols = `failed_count, lockout_count, locked_until, last_failure_at`

func scanLockout(row pgx.Row, userID string) (store.Lockout, error) {
	l := store.Lockout{UserID: userID}
	var until, last *time.Time
	err := row.Scan(&l.FailedCount, &l.LockoutCount, &until, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return store.Lockout{}, err
	}
	l.LockedUntil, l.LastFailureAt = utcOrZero(until), utcOrZero(last)
	return l, nil
}

// Lockout implements store.Lockouts.
func (s *Store) Lockout(ctx context.Context, userID string) (store.Lockout, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	l, err := scanLockout(s.pool.QueryRow(ctx, `SELECT `+lockoutCols+` FROM lockouts WHERE user_id = $1`, userID), userID)
	if err != nil {
		return store.Lockout{}, failed(fmt.Sprintf("reading the lockout state of %q", userID), err)
	}
	return l, nil
}

// RecordFailure implements store.Lockouts: in one transaction, an upsert
// that creates the key's row when missing and locks it either way (a
// concurrent first failure waits for this one's insert to commit), then
// policy.Next in Go and the write of its result. Concurrent failures run
// one after another, so none is lost and exactly one locks.
func (s *Store) RecordFailure(ctx context.Context, userID string, now time.Time, policy store.LockoutPolicy) (store.Lockout, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if err := policy.Validate(); err != nil {
		return store.Lockout{}, err
	}
	if userID == "" {
		return store.Lockout{}, fmt.Errorf("%w: lockout key is empty", store.ErrInvalid)
	}
	now = trunc(now)
	var l store.Lockout
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanLockout(tx.QueryRow(ctx, `INSERT INTO lockouts (user_id) VALUES ($1)
			ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id
			RETURNING `+lockoutCols, userID), userID)
		if err != nil {
			return err
		}
		if cur.Locked(now) {
			l = cur // Next would change nothing
			return nil
		}
		l = policy.Next(cur, now)
		_, err = tx.Exec(ctx, `UPDATE lockouts SET failed_count = $2, lockout_count = $3, locked_until = $4, last_failure_at = $5
			WHERE user_id = $1`,
			userID, l.FailedCount, l.LockoutCount, nullTime(l.LockedUntil), nullTime(l.LastFailureAt))
		return err
	})
	if err != nil {
		return store.Lockout{}, failed(fmt.Sprintf("recording a failed login of %q", userID), err)
	}
	return l, nil
}

// ClearFailures implements store.Lockouts.
func (s *Store) ClearFailures(ctx context.Context, userID string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `UPDATE lockouts SET failed_count = 0 WHERE user_id = $1 AND failed_count <> 0`, userID); err != nil {
		return failed(fmt.Sprintf("clearing the failed logins of %q", userID), err)
	}
	return nil
}

// Unlock implements store.Lockouts.
func (s *Store) Unlock(ctx context.Context, userID string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM lockouts WHERE user_id = $1`, userID); err != nil {
		return failed(fmt.Sprintf("unlocking %q", userID), err)
	}
	return nil
}
