package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/store"
)

// validOrgName is the embedded store's rule for organisation names (kept in
// step with store/sqlite; the conformance suite checks both).
func validOrgName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: organisation name is empty", store.ErrInvalid)
	case len(name) > 200 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: organisation name %q: at most 200 bytes of UTF-8 without control characters", store.ErrInvalid, name)
	}
	return nil
}

const orgCols = `id, name, created_at`

func scanOrg(row pgx.Row) (store.Organisation, error) {
	var o store.Organisation
	if err := row.Scan(&o.ID, &o.Name, &o.CreatedAt); err != nil {
		return store.Organisation{}, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return o, nil
}

// CreateOrganisation implements store.Organisations.
func (s *Store) CreateOrganisation(ctx context.Context, org store.Organisation) (store.Organisation, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
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
	_, err := s.pool.Exec(ctx, `INSERT INTO organisations (`+orgCols+`) VALUES ($1, $2, $3)`, org.ID, org.Name, org.CreatedAt)
	if isUnique(err) {
		return store.Organisation{}, fmt.Errorf("%w: organisation %q (or its id) already exists", store.ErrConflict, org.Name)
	}
	if err != nil {
		return store.Organisation{}, failed(fmt.Sprintf("creating organisation %q", org.Name), err)
	}
	return org, nil
}

// EnsureOrganisation implements store.Organisations. The insert does
// nothing when the name is taken, waiting for a concurrent insert of the
// name to commit; the read after it then finds that organisation.
func (s *Store) EnsureOrganisation(ctx context.Context, name string, now time.Time) (store.Organisation, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	name = strings.TrimSpace(name)
	if err := validOrgName(name); err != nil {
		return store.Organisation{}, err
	}
	if now.IsZero() {
		return store.Organisation{}, fmt.Errorf("%w: organisation %q: creation time is zero", store.ErrInvalid, name)
	}
	fail := func(err error) (store.Organisation, error) {
		return store.Organisation{}, failed(fmt.Sprintf("ensuring organisation %q", name), err)
	}
	// Organisations are never deleted, so the second round finds it; the
	// loop only guards against a row that vanished in between.
	for range 3 {
		org, err := scanOrg(s.pool.QueryRow(ctx, `INSERT INTO organisations (`+orgCols+`) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING RETURNING `+orgCols, store.NewID(), name, trunc(now)))
		if !errors.Is(err, pgx.ErrNoRows) {
			if err != nil {
				return fail(err)
			}
			return org, nil
		}
		org, err = scanOrg(s.pool.QueryRow(ctx, `SELECT `+orgCols+` FROM organisations WHERE name = $1`, name))
		if !errors.Is(err, pgx.ErrNoRows) {
			if err != nil {
				return fail(err)
			}
			return org, nil
		}
	}
	return fail(errors.New("the organisation was deleted while it was created"))
}

// OrganisationByID implements store.Organisations.
func (s *Store) OrganisationByID(ctx context.Context, id string) (store.Organisation, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	o, err := scanOrg(s.pool.QueryRow(ctx, `SELECT `+orgCols+` FROM organisations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("%w: organisation %q", store.ErrNotFound, id)
	}
	if err != nil {
		return o, failed(fmt.Sprintf("reading organisation %q", id), err)
	}
	return o, nil
}

// OrganisationByName implements store.Organisations.
func (s *Store) OrganisationByName(ctx context.Context, name string) (store.Organisation, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	name = strings.TrimSpace(name)
	o, err := scanOrg(s.pool.QueryRow(ctx, `SELECT `+orgCols+` FROM organisations WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("%w: organisation %q", store.ErrNotFound, name)
	}
	if err != nil {
		return o, failed(fmt.Sprintf("reading organisation %q", name), err)
	}
	return o, nil
}

// ListOrganisations implements store.Organisations: byte order, through
// the column's "C" collation.
func (s *Store) ListOrganisations(ctx context.Context) ([]store.Organisation, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+orgCols+` FROM organisations ORDER BY name`)
	if err != nil {
		return nil, failed("listing organisations", err)
	}
	orgs, err := collect(rows, scanOrg)
	if err != nil {
		return nil, failed("listing organisations", err)
	}
	return orgs, nil
}

const userCols = `id, org_id, email, password_hash, role, disabled, two_factor_enabled, created_at, updated_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var role string
	if err := row.Scan(&u.ID, &u.OrgID, &u.Email, &u.PasswordHash, &role, &u.Disabled, &u.TwoFactorEnabled,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return store.User{}, err
	}
	u.Role = store.Role(role)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
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
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8)`,
		u.ID, u.OrgID, u.Email, u.PasswordHash, string(u.Role), u.Disabled, u.CreatedAt, u.UpdatedAt)
	switch {
	case isUnique(err):
		return store.User{}, fmt.Errorf("%w: a user with e-mail address %s (or id %s) already exists", store.ErrConflict, u.Email, u.ID)
	case isForeignKey(err):
		return store.User{}, fmt.Errorf("%w: organisation %q of user %s", store.ErrNotFound, u.OrgID, u.Email)
	case err != nil:
		return store.User{}, failed(fmt.Sprintf("creating user %s", u.Email), err)
	}
	return u, nil
}

// UserByID implements store.Users: one primary-key read, no lock.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", store.ErrNotFound, id)
	}
	if err != nil {
		return u, failed(fmt.Sprintf("reading user %q", id), err)
	}
	return u, nil
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	email = store.NormaliseEmail(email)
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("%w: user with e-mail address %q", store.ErrNotFound, email)
	}
	if err != nil {
		return u, failed(fmt.Sprintf("reading user %q", email), err)
	}
	return u, nil
}

// ListUsers implements store.Users: byte order and keyset paging through
// the "C" collation of email, served by users_email_key or users_org_email.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.OrgID != "" {
		add("org_id = $%d", f.OrgID)
	}
	if f.Role != "" {
		add("role = $%d", string(f.Role))
	}
	if f.AfterEmail != "" {
		add("email > $%d", store.NormaliseEmail(f.AfterEmail))
	}
	q := `SELECT ` + userCols + ` FROM users`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY email`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, failed("listing users", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, failed("listing users", err)
	}
	return users, nil
}

// CountUsers implements store.Users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, failed("counting users", err)
	}
	return n, nil
}

// SetRole implements store.Users in one statement: the subquery locks the
// row and reads the role the update replaces.
func (s *Store) SetRole(ctx context.Context, userID string, role store.Role, now time.Time) (store.Role, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if !role.Valid() {
		return "", fmt.Errorf("%w: unknown role %q", store.ErrInvalid, role)
	}
	var prev string
	err := s.pool.QueryRow(ctx, `UPDATE users u SET role = $2, updated_at = $3
		FROM (SELECT id, role FROM users WHERE id = $1 FOR NO KEY UPDATE) old
		WHERE u.id = old.id
		RETURNING old.role`, userID, string(role), trunc(now)).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("setting the role of user %q: %w: user %q", userID, store.ErrNotFound, userID)
	}
	if err != nil {
		return "", failed(fmt.Sprintf("setting the role of user %q", userID), err)
	}
	return store.Role(prev), nil
}

// SetDisabled implements store.Users. The update locks the user's row,
// which every change of the user's refresh tokens locks first, so the
// revocation (a later statement, with a later snapshot) also sees a token
// a concurrent rotation committed while the update waited.
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	now = trunc(now)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1`, userID, disabled, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
		}
		if disabled {
			_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
		}
		return err
	})
	if err != nil {
		return failed(fmt.Sprintf("setting user %q disabled=%t", userID, disabled), err)
	}
	return nil
}

// SetPasswordHash implements store.Users.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if hash == "" {
		return fmt.Errorf("%w: user %q: password hash is empty", store.ErrInvalid, userID)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, userID, hash, trunc(now))
	if err != nil {
		return failed(fmt.Sprintf("setting the password of user %q", userID), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, userID)
	}
	return nil
}
