// Package postgres is the shared store: store.Store on a PostgreSQL database
// through a pgx/v5 connection pool, for several `serve` nodes (and the user
// and migrate commands beside them) on one database.
//
// # Schema
//
// migrations/0001_init.sql holds the embedded store's tables in PostgreSQL's
// types: times are TIMESTAMPTZ (microsecond precision, which the store
// interface promises anyway), booleans BOOLEAN, hashes and ciphertext BYTEA,
// audit details JSON. Names and e-mail addresses, and every key column, are
// COLLATE "C", so that listings come in byte order on a database whose
// default collation is a natural language's. Open does not migrate: call
// Migrate (serve, the user commands, `migrate up`) or MigrationStatus.
//
// # Atomic operations
//
// Transactions run at READ COMMITTED, so no statement ever fails with a
// serialization error; what must be atomic is one statement whose row locks
// serialise it (a conditional UPDATE is re-checked against the row a
// concurrent writer committed), or a transaction that locks the rows it
// reads (SELECT … FOR UPDATE) before it decides:
//
//   - AcceptStep and UseBackupCode are one conditional UPDATE each.
//   - RecordFailure locks the key's row (an upsert that creates it when
//     missing), applies LockoutPolicy.Next and writes the result.
//   - A user's row is the lock of the user's refresh tokens: rotation, family
//     and user revocation and disabling lock it (FOR NO KEY UPDATE, which
//     leaves foreign-key checks and reads alone) before they read or revoke
//     tokens, so a revocation cannot miss a token that a concurrent rotation
//     was inserting, and of concurrent rotations of one token the first
//     spends it and the others find it spent (store.ErrTokenReuse).
//   - The TOTP methods lock the totp row before the user's row; nothing
//     locks them the other way round, so they cannot deadlock.
//
// Should a deadlock or serialization failure happen all the same (the
// expired-token cleanup deletes rows a rotation may be revoking), the
// transaction is retried; callers never see one.
//
// # Connections
//
// The pool holds at most max(4, 2×GOMAXPROCS) connections, capped at 16 so
// that several nodes fit PostgreSQL's default max_connections of 100, and
// keeps one open. Connections identify themselves as application_name
// repairxctl and give up connecting after 10 seconds. Parameters in the URL
// (pool_max_conns, pool_min_conns, application_name, connect_timeout, …)
// override these defaults.
//
// Every call without a deadline of its own gets one of 30 seconds (Migrate
// excepted: it may wait for another node's migration), and a cancelled
// context cancels the statement on the server.
//
// sslmode is the URL's: pgx defaults to prefer, which a man in the middle
// can downgrade, so give sslmode=verify-full for a server on another host.
// Statements are prepared and cached per connection; behind a pooler that
// cannot keep them (PgBouncer before 1.21 in transaction mode) add
// default_query_exec_mode=exec to the URL.
//
// Errors never contain the URL's password, key values (PostgreSQL's error
// detail) or the hashes and ciphertext the store keeps.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations, sorted by version.
func Migrations() ([]migrate.Migration, error) {
	return migrate.Load(migrationFiles, "migrations")
}

const (
	// ApplicationName is the application_name of the store's connections
	// (pg_stat_activity), unless the URL names another.
	ApplicationName = "repairxctl"
	// opTimeout bounds a call whose context has no deadline.
	opTimeout = 30 * time.Second
	// connectTimeout bounds one connection attempt unless the URL sets
	// connect_timeout.
	connectTimeout = 10 * time.Second
	// maxPoolCap caps the default pool size.
	maxPoolCap = 16
	// migrationLockKey is the pg_advisory_xact_lock key that serialises
	// migrators: "repairxm" as a big-endian int64. Advisory locks are per
	// database, so databases on one server do not wait for each other.
	migrationLockKey = "8243118256654809197"
)

var (
	// ErrUnavailable: the server could not be reached, or refused new
	// connections for now (starting up, shutting down, too many clients).
	// Retrying later may succeed.
	ErrUnavailable = errors.New("PostgreSQL unavailable")
	// ErrAuthentication: the server refused the URL's role or password.
	ErrAuthentication = errors.New("PostgreSQL refused the credentials")
)

// dialect is the migration runner's PostgreSQL dialect. CreateTable takes
// the migration lock too: two sessions running CREATE TABLE IF NOT EXISTS at
// once can both find no table and one then fails on a duplicate catalog row.
// The simple query protocol runs both statements in one implicit
// transaction, which holds the lock until the table exists.
var dialect = migrate.Dialect{
	Name: "postgres",
	CreateTable: `SELECT pg_advisory_xact_lock(` + migrationLockKey + `);
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	checksum   TEXT    NOT NULL,
	applied_at BIGINT  NOT NULL
)`,
	TableExists: `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END`,
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Lock:        `SELECT pg_advisory_xact_lock(` + migrationLockKey + `)`,
}

// Store is the PostgreSQL store. It is safe for concurrent use, also by
// several processes on one database.
type Store struct {
	pool      *pgxpool.Pool
	db        *sql.DB // the pool seen through database/sql, for the migration runner
	name      string
	closeOnce sync.Once
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Migrator = (*Store)(nil)
)

// Open connects to the database at url (postgres://… or key=value pairs, as
// libpq takes them) and checks that it answers. Its errors name the
// database without the password; a server that cannot be reached is
// ErrUnavailable, refused credentials ErrAuthentication, and a URL that does
// not parse store.ErrInvalid.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := parseConfig(url)
	if err != nil {
		return nil, err
	}
	s := &Store{name: displayName(&cfg.ConnConfig.Config)}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.openError(err, cfg.ConnConfig.Password)
	}
	s.pool = pool
	s.db = stdlib.OpenDBFromPool(pool)
	// The pool connects lazily: connect now, so that a wrong URL fails here
	// and not at the first request.
	pctx, cancel := bound(ctx)
	defer cancel()
	if err := s.ping(pctx); err != nil {
		s.Close()
		return nil, s.openError(err, cfg.ConnConfig.Password)
	}
	return s, nil
}

// parseConfig parses the URL and fills in the defaults it does not set.
func parseConfig(connString string) (*pgxpool.Config, error) {
	const want = "want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full or key=value pairs"
	if strings.TrimSpace(connString) == "" {
		return nil, fmt.Errorf("%w PostgreSQL URL: it is empty; %s", store.ErrInvalid, want)
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("%w PostgreSQL URL: it does not parse (%s); %s", store.ErrInvalid, parseErrorReason(err), want)
	}
	if !strings.Contains(connString, "pool_max_conns") {
		cfg.MaxConns = int32(max(4, min(2*runtime.GOMAXPROCS(0), maxPoolCap)))
	}
	if !strings.Contains(connString, "pool_min_conns") {
		cfg.MinConns = 1
	}
	if !strings.Contains(connString, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = 5 * time.Minute
	}
	if !strings.Contains(connString, "pool_max_conn_lifetime_jitter") {
		// Connections opened together are not all replaced together.
		cfg.MaxConnLifetimeJitter = 5 * time.Minute
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = connectTimeout
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = ApplicationName
	}
	return cfg, nil
}

// parseErrorReason is why pgx could not parse a connection string, without
// the string: pgx masks the password in its message only on a best-effort
// basis, and the error it wraps (net/url's) quotes the string in full.
func parseErrorReason(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "not a connection string"
	}
	c := *pe
	c.ConnString = ""
	msg := strings.TrimPrefix(c.Error(), "cannot parse ``: ")
	if inner := errors.Unwrap(pe); inner != nil {
		msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
	}
	if strings.ContainsAny(msg, "@=/") { // looks like it quotes the string after all
		return "not a connection string"
	}
	return msg
}

// displayName names the database in messages: its user, host, port and
// name, never the password or the URL's parameters (which may hold
// secrets such as sslpassword).
func displayName(c *pgconn.Config) string {
	user := url.PathEscape(c.User)
	if strings.HasPrefix(c.Host, "/") { // a Unix socket directory
		return fmt.Sprintf("postgres://%s@/%s?host=%s", user, url.PathEscape(c.Database), c.Host)
	}
	return fmt.Sprintf("postgres://%s@%s/%s", user, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), url.PathEscape(c.Database))
}

// openError explains a failed connection, classified, with the password
// scrubbed should it appear in a message.
func (s *Store) openError(err error, password string) error {
	var kind error
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &pe) && strings.HasPrefix(pe.Code, "28"):
		kind = ErrAuthentication
	case unavailable(err):
		kind = ErrUnavailable
	}
	msg := oneLine(err.Error())
	if len(password) >= 3 {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	hint := ""
	switch kind {
	case ErrAuthentication:
		hint = ": check the user and password of the database URL"
	case ErrUnavailable:
		hint = ": is the server running and reachable at that address?"
	}
	return &openErr{msg: fmt.Sprintf("opening the PostgreSQL store %s: %s%s", s.name, msg, hint), kind: kind, err: err}
}

// oneLine joins the lines of a message, dropping repeats: pgx reports each
// connection attempt on a line of its own, and sslmode=prefer (the
// default) makes two identical attempts, with and without TLS.
func oneLine(msg string) string {
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " ")
}

// openErr is a connection failure whose message was scrubbed; it still
// unwraps to the driver's error and its kind.
type openErr struct {
	msg  string
	kind error
	err  error
}

func (e *openErr) Error() string { return e.msg }

func (e *openErr) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// unavailable reports a failure to reach the server, or a server that
// refuses connections for now.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		// cannot_connect_now (starting up or shutting down),
		// too_many_connections, admin_shutdown, crash_shutdown
		case "57P03", "53300", "57P01", "57P02":
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection_exception
	}
	var ne net.Error
	return errors.As(err, &ne) || pgconn.Timeout(err)
}

// Name names the database for messages: postgres://USER@HOST:PORT/DATABASE,
// without the password or the URL's parameters.
func (s *Store) Name() string { return s.name }

// Ping checks that the database answers (the readiness probe).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if err := s.ping(ctx); err != nil {
		return fmt.Errorf("store %s: %w", s.name, err)
	}
	return nil
}

// ping runs a statement rather than pgx's empty ping, so that a server
// that accepts connections but cannot run queries does not pass.
func (s *Store) ping(ctx context.Context) error {
	var one int
	return s.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Close closes the pool, waiting for connections in use to be returned. It
// may be called more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.db != nil {
			err = s.db.Close()
		}
		if s.pool != nil {
			s.pool.Close()
		}
	})
	return err
}

// Migrate applies the pending embedded migrations (store.Migrator). The
// migrations and the creation of schema_migrations run under an advisory
// lock, so that nodes starting together apply each migration once. It has
// no default deadline: it may wait for another node's migration.
func (s *Store) Migrate(ctx context.Context) ([]migrate.Migration, error) {
	r, err := s.runner()
	if err != nil {
		return nil, err
	}
	return r.Up(ctx)
}

// MigrationStatus reports the embedded and applied migrations
// (store.Migrator). It writes nothing and takes no lock.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrate.State, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	r, err := s.runner()
	if err != nil {
		return nil, err
	}
	return r.Status(ctx)
}

func (s *Store) runner() (migrate.Runner, error) {
	ms, err := Migrations()
	if err != nil {
		return migrate.Runner{}, err
	}
	return migrate.Runner{DB: s.db, Dialect: dialect, Migrations: ms}, nil
}

// bound gives a call without a deadline the default one.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// maxAttempts is how often inTx runs a transaction that failed with a
// deadlock or serialization failure.
const maxAttempts = 4

// inTx runs fn in a READ COMMITTED transaction and commits when fn returns
// nil. A deadlock or serialization failure (neither expected, see the
// package documentation) runs fn again, so fn must only assign, not
// accumulate, what it hands out.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range maxAttempts {
		if err = s.tryTx(ctx, fn); !retryable(err) {
			return err
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		rollback(tx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// rollback ends a failed transaction, also when its context was
// cancelled: a rollback under a cancelled context would fail and cost the
// connection.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// SQLSTATE codes the store handles.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeBadCharacter         = "22021" // character_not_in_repertoire: NUL, invalid UTF-8
	codeBadEscape            = "22P05" // untranslatable_character
)

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == codeUniqueViolation }
func isForeignKey(err error) bool { return pgCode(err) == codeForeignKeyViolation }

func retryable(err error) bool {
	c := pgCode(err)
	return c == codeSerializationFailure || c == codeDeadlockDetected
}

// failed wraps a failure of op. Text PostgreSQL cannot store (a NUL byte,
// invalid UTF-8) is the caller's: ErrInvalid. The message of a PgError
// carries no key values (those are in its Detail, which is never shown).
func failed(op string, err error) error {
	if c := pgCode(err); c == codeBadCharacter || c == codeBadEscape {
		return fmt.Errorf("%s: %w: a text value holds a NUL byte or is not UTF-8 (%w)", op, store.ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Times: the columns are TIMESTAMPTZ, whose precision is the microsecond.
// Values are truncated before they are sent, so that what a call returns
// equals what a later read returns, and read back in UTC.

// trunc is t as it reads back from the store; the zero time stays zero.
func trunc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// ceil is t rounded up to the microsecond: a stored time is >= t, or < t,
// exactly when it is >= or < ceil(t). Query bounds use it.
func ceil(t time.Time) time.Time {
	if c := t.Truncate(time.Microsecond); !c.Equal(t) {
		return c.Add(time.Microsecond).UTC()
	}
	return t.UTC()
}

// nullTime is a nullable TIMESTAMPTZ argument: nil for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = trunc(t)
	return &t
}

// utcPtr converts a scanned nullable time to UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// utcOrZero converts a scanned nullable time to UTC or the zero time.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// collect scans all rows with scan into a non-nil slice.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
