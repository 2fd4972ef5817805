package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var _ store.Blobs = (*Store)(nil)

// Blob implements store.Blobs.
func (s *Store) Blob(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM blobs WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading blob %q: %w", name, err)
	}
	return v, nil
}

// CreateBlob implements store.Blobs.
func (s *Store) CreateBlob(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, fmt.Errorf("%w: blob name and value must not be empty", store.ErrInvalid)
	}
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, value, micros(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM blobs WHERE name = ?`, name).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("creating blob %q: %w", name, err)
	}
	return stored, nil
}

// ReplaceBlob implements store.Blobs.
func (s *Store) ReplaceBlob(ctx context.Context, name string, old, value []byte, now time.Time) error {
	if len(value) == 0 {
		return fmt.Errorf("%w: blob value must not be empty", store.ErrInvalid)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var cur []byte
		err := tx.QueryRowContext(ctx, `SELECT value FROM blobs WHERE name = ?`, name).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("blob %q: %w", name, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading blob %q: %w", name, err)
		}
		if !bytes.Equal(cur, old) {
			return fmt.Errorf("blob %q changed meanwhile: %w", name, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE blobs SET value = ?, updated_at = ? WHERE name = ?`, value, micros(now), name)
		return err
	})
}
