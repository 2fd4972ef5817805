package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/repairx/repairxctl/internal/store"
)

func validOrgName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: organisation name is empty", store.ErrInvalid)
	case len(name) > 200 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: organisation name %q: at most 200 bytes of UTF-8 without control characters", store.ErrInvalid, name)
	}
	return nil
}

// CreateOrganisation implements store.Organisations.
func (s *Store) CreateOrganisation(ctx context.Context, org store.Organisation) (store.Organisation, error) {
	org.Name = strings.TrimSpace(org.Name)
	if org.ID == "" {
		org.ID = store.NewID()
	}
	org.CreatedAt = trunc(org.CreatedAt)
	if err := validOrgName(org.Name); err != nil {
		return store.Organisation{}, err
	}
	if org.CreatedAt.IsZero() {
		return store.Organisation{}, fmt.Errorf("%w: organisation %q: creation time is zero", store.ErrInvalid, org.Name)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)`,
		org.ID, org.Name, micros(org.CreatedAt))
	if isUnique(err) {
		return store.Organisation{}, fmt.Errorf("%w: organisation %q (or its id) already exists", store.ErrConflict, org.Name)
	}
	if err != nil {
		return store.Organisation{}, fmt.Errorf("creating organisation %q: %w", org.Name, err)
	}
	return org, nil
}

// EnsureOrganisation implements store.Organisations.
func (s *Store) EnsureOrganisation(ctx context.Context, name string, now time.Time) (store.Organisation, error) {
	name = strings.TrimSpace(name)
	if err := validOrgName(name); err != nil {
		return store.Organisation{}, err
	}
	if now.IsZero() {
		return store.Organisation{}, fmt.Errorf("%w: organisation %q: creation time is zero", store.ErrInvalid, name)
	}
	var org store.Organisation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		org, err = scanOrg(tx.QueryRowContext(ctx, `SELECT id, name, created_at FROM organisations WHERE name = ?`, name))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		org = store.Organisation{ID: store.NewID(), Name: name, CreatedAt: trunc(now)}
		_, err = tx.ExecContext(ctx, `INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)`,
			org.ID, org.Name, micros(org.CreatedAt))
		return err
	})
	if err != nil {
		return store.Organisation{}, fmt.Errorf("ensuring organisation %q: %w", name, err)
	}
	return org, nil
}

func scanOrg(row scanner) (store.Organisation, error) {
	var o store.Organisation
	var created int64
	if err := row.Scan(&o.ID, &o.Name, &created); err != nil {
		return store.Organisation{}, err
	}
	o.CreatedAt = fromMicros(created)
	return o, nil
}

// OrganisationByID implements store.Organisations.
func (s *Store) OrganisationByID(ctx context.Context, id string) (store.Organisation, error) {
	o, err := scanOrg(s.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM organisations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("%w: organisation %q", store.ErrNotFound, id)
	}
	if err != nil {
		return o, fmt.Errorf("reading organisation %q: %w", id, err)
	}
	return o, nil
}

// OrganisationByName implements store.Organisations.
func (s *Store) OrganisationByName(ctx context.Context, name string) (store.Organisation, error) {
	name = strings.TrimSpace(name)
	o, err := scanOrg(s.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM organisations WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("%w: organisation %q", store.ErrNotFound, name)
	}
	if err != nil {
		return o, fmt.Errorf("reading organisation %q: %w", name, err)
	}
	return o, nil
}

// ListOrganisations implements store.Organisations.
func (s *Store) ListOrganisations(ctx context.Context) ([]store.Organisation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, created_at FROM organisations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	defer rows.Close()
	orgs := []store.Organisation{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("listing organisations: %w", err)
		}
		orgs = append(orgs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	return orgs, nil
}

const userCols = `id, org_id, email, password_hash, role, disabled, two_factor_enabled, created_at, updated_at`

func scanUser(row scanner) (store.User, error) {
	var u store.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.OrgID, &u.Email, &u.PasswordHash, &role, &u.Disabled, &u.TwoFactorEnabled,
		&created, &updated); err != nil {
		return store.User{}, err
	}
	u.Role = store.Role(role)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u.Email = store.NormaliseEmail(u.Email)
	if u.ID == "" {
		u.ID = store.NewID()
	}
	u.CreatedAt = trunc(u.CreatedAt)
	u.UpdatedAt = u.CreatedAt
	u.TwoFactorEnabled = false
	if err := u.Validate(); err != nil {
		return store.User{}, err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		u.ID, u.OrgID, u.Email, u.PasswordHash, string(u.Role), boolInt(u.Disabled), micros(u.CreatedAt), micros(u.UpdatedAt))
	switch {
	case isUnique(err):
		return store.User{}, fmt.Errorf("%w: a user with e-mail address %s (or id %s) already exists", store.ErrConflict, u.Email, u.ID)
	case isForeignKey(err):
		return store.User{}, fmt.Errorf("%w: organisation %q of user %s", store.ErrNotFound, u.OrgID, u.Email)
	case err != nil:
		return store.User{}, fmt.Errorf("creating user %s: %w", u.Email, err)
	}
	return u, nil
}

// UserByID implements store.Users.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", store.ErrNotFound, id)
	}
	if err != nil {
		return u, fmt.Errorf("reading user %q: %w", id, err)
	}
	return u, nil
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	email = store.NormaliseEmail(email)
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user with e-mail address %q", store.ErrNotFound, email)
	}
	if err != nil {
		return u, fmt.Errorf("reading user %q: %w", email, err)
	}
	return u, nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var where []string
	var args []any
	if f.OrgID != "" {
		where, args = append(where, "org_id = ?"), append(args, f.OrgID)
	}
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, string(f.Role))
	}
	if f.AfterEmail != "" {
		where, args = append(where, "email > ?"), append(args, store.NormaliseEmail(f.AfterEmail))
	}
	q := `SELECT ` + userCols + ` FROM users`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY email`
	if f.Limit > 0 {
		q, args = q+` LIMIT ?`, append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	users := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return users, nil
}

// CountUsers implements store.Users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// SetRole implements store.Users.
func (s *Store) SetRole(ctx context.Context, userID string, role store.Role, now time.Time) (store.Role, error) {
	if !role.Valid() {
		return "", fmt.Errorf("%w: unknown role %q", store.ErrInvalid, role)
	}
	var prev string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, userID).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(role), micros(now), userID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("setting the role of user %q: %w", userID, err)
	}
	return store.Role(prev), nil
}

// SetDisabled implements store.Users.
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := rowsAffected(tx.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`,
			boolInt(disabled), micros(now), userID))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
		}
		if disabled {
			_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
				micros(now), userID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("setting user %q disabled=%t: %w", userID, disabled, err)
	}
	return nil
}

// SetPasswordHash implements store.Users.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	if hash == "" {
		return fmt.Errorf("%w: user %q: password hash is empty", store.ErrInvalid, userID)
	}
	n, err := rowsAffected(s.w.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
		hash, micros(now), userID))
	if err != nil {
		return fmt.Errorf("setting the password of user %q: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
	}
	return nil
}
