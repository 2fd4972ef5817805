package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/store"
)

var _ store.Blobs = (*Store)(nil)

// Blob implements store.Blobs.
func (s *Store) Blob(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM blobs WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("blob %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, failed(fmt.Sprintf("reading blob %q", name), err)
	}
	return v, nil
}

// CreateBlob implements store.Blobs. The insert does nothing when the name
// is taken, after waiting for a concurrent insert of it to commit, so the
// read after it returns the winner's value.
func (s *Store) CreateBlob(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if name == "" || len(value) == 0 {
		return nil, fmt.Errorf("%w: blob name and value must not be empty", store.ErrInvalid)
	}
	op := fmt.Sprintf("creating blob %q", name)
	var stored []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO blobs (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING RETURNING value`, name, value, trunc(now)).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		// Blobs are never deleted: the name's row is there.
		err = s.pool.QueryRow(ctx, `SELECT value FROM blobs WHERE name = $1`, name).Scan(&stored)
	}
	if err != nil {
		return nil, failed(op, err)
	}
	return stored, nil
}

// ReplaceBlob implements store.Blobs with one conditional UPDATE (compare
// and swap): of concurrent replacements of one value the first changes the
// row and the others, re-checked against it, find another value.
func (s *Store) ReplaceBlob(ctx context.Context, name string, old, value []byte, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if len(value) == 0 {
		return fmt.Errorf("%w: blob value must not be empty", store.ErrInvalid)
	}
	var swapped, exists bool
	err := s.pool.QueryRow(ctx, `WITH r AS (
			UPDATE blobs SET value = $3, updated_at = $4 WHERE name = $1 AND value = $2 RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM blobs WHERE name = $1)`,
		name, old, value, trunc(now)).Scan(&swapped, &exists)
	switch {
	case err != nil:
		return failed(fmt.Sprintf("replacing blob %q", name), err)
	case swapped:
		return nil
	case !exists:
		return fmt.Errorf("blob %q: %w", name, store.ErrNotFound)
	}
	return fmt.Errorf("blob %q changed meanwhile: %w", name, store.ErrConflict)
}
