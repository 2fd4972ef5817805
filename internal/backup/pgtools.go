package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// debianPostgresDir holds one bin directory per installed major version
// (/usr/lib/postgresql/15/bin), Debian's layout for side-by-side versions.
const debianPostgresDir = "/usr/lib/postgresql"

// pgURL is a PostgreSQL connection URL split for the client tools: the URL
// without its password (safe on a command line) and the password, which
// goes to the tool through PGPASSWORD.
type pgURL struct {
	full     string // for pgx, password included
	noSecret string // for pg_dump/pg_restore --dbname
	password string
	hasPass  bool
	redacted string // for messages
	database string
}

// parsePGURL parses a postgres:// or postgresql:// URL.
func parsePGURL(raw string) (pgURL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url.Parse's error quotes the input, which may hold a password.
		return pgURL{}, errors.New("invalid PostgreSQL URL: expected postgres://user:password@host:port/database?options")
	}
	p := pgURL{full: raw, redacted: u.Redacted()}
	if u.User != nil {
		p.password, p.hasPass = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	p.noSecret = u.String()
	p.database = strings.TrimPrefix(u.Path, "/")
	if p.database == "" {
		p.database = u.Query().Get("dbname")
	}
	return p, nil
}

// env returns the environment for a client tool: ours, with the URL's
// password in PGPASSWORD (never on the command line, where ps shows it)
// and an application name for pg_stat_activity.
func (p pgURL) env(app string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return (p.hasPass && strings.HasPrefix(kv, "PGPASSWORD=")) || strings.HasPrefix(kv, "PGAPPNAME=")
	})
	env = append(env, "PGAPPNAME="+app)
	if p.hasPass {
		env = append(env, "PGPASSWORD="+p.password)
	}
	return env
}

// connect opens a pgx connection with the session settings that make row
// text the same on every connection (checksums compare it).
func connect(ctx context.Context, u pgURL) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, u.full)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", u.redacted, err)
	}
	for _, set := range []string{
		"SET TimeZone TO 'UTC'",
		"SET DateStyle TO 'ISO, YMD'",
		"SET IntervalStyle TO 'postgres'",
		"SET extra_float_digits TO 3",
		"SET bytea_output TO 'hex'",
		"SET statement_timeout TO 0",
		"SET idle_in_transaction_session_timeout TO 0",
	} {
		if _, err := conn.Exec(ctx, set); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%s on %s: %w", set, u.redacted, err)
		}
	}
	return conn, nil
}

// pgServer is what a server says about itself.
type pgServer struct {
	version    string // "15.18"
	versionNum int    // 150018
}

// major returns the major version as Debian names its directory: "15", or
// "9.6" before PostgreSQL 10.
func (s pgServer) major() string { return pgMajor(s.versionNum) }

func pgMajor(num int) string {
	if num >= 100000 {
		return strconv.Itoa(num / 10000)
	}
	return fmt.Sprintf("%d.%d", num/10000, num/100%100)
}

func queryServer(ctx context.Context, conn *pgx.Conn) (pgServer, error) {
	var s pgServer
	var num string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&num); err != nil {
		return s, fmt.Errorf("reading the server version: %w", err)
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return s, fmt.Errorf("reading the server version: unexpected server_version_num %q", num)
	}
	s.versionNum = n
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&s.version); err != nil {
		return s, fmt.Errorf("reading the server version: %w", err)
	}
	s.version, _, _ = strings.Cut(s.version, " ")
	return s, nil
}

// pgTool finds a client tool (pg_dump, pg_restore) of the given major
// version: in binDir when set, else in Debian's /usr/lib/postgresql/<major>/bin.
func pgTool(binDir, major, tool string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, tool)
		if !isExecutable(p) {
			return "", fmt.Errorf("%s not found in %s", tool, binDir)
		}
		return p, nil
	}
	p := filepath.Join(debianPostgresDir, major, "bin", tool)
	if !isExecutable(p) {
		return "", fmt.Errorf("%s for PostgreSQL %s not found at %s: install postgresql-client-%s "+
			"(a client older than the server cannot dump it, and a newer one may write dumps the server's own tools cannot read), "+
			"or set the PostgreSQL bin directory", tool, major, p, major)
	}
	return p, nil
}

// pgToolAtLeast finds tool of major version minNum's or the closest newer
// installed one: pg_restore reads archives of its own and older versions.
func pgToolAtLeast(binDir string, minNum int, tool string) (string, error) {
	if binDir != "" {
		return pgTool(binDir, "", tool)
	}
	if p, err := pgTool("", pgMajor(minNum), tool); err == nil {
		return p, nil
	}
	dirs, _ := os.ReadDir(debianPostgresDir)
	best, bestMajor := "", 0.0
	want, _ := strconv.ParseFloat(pgMajor(minNum), 64)
	for _, d := range dirs {
		m, err := strconv.ParseFloat(d.Name(), 64)
		p := filepath.Join(debianPostgresDir, d.Name(), "bin", tool)
		if err != nil || m < want || !isExecutable(p) {
			continue
		}
		if best == "" || m < bestMajor {
			best, bestMajor = p, m
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s for PostgreSQL %s or newer not found under %s: install postgresql-client-%s, or set the PostgreSQL bin directory",
			tool, pgMajor(minNum), debianPostgresDir, pgMajor(minNum))
	}
	return best, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// toolVersion returns a tool's --version line, e.g. "pg_dump (PostgreSQL) 15.18".
func toolVersion(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// tailBuffer keeps the last max bytes written to it: a tool's stderr, for
// its error message, without unbounded growth.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer() *tailBuffer { return &tailBuffer{max: 16 << 10} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(bytes.ToValidUTF8(t.buf, []byte("?"))))
}

// toolError describes a client tool's failure with what it said on stderr.
func toolError(tool string, err error, stderr *tailBuffer) error {
	msg := stderr.String()
	if msg == "" {
		return fmt.Errorf("%s failed: %w", tool, err)
	}
	return fmt.Errorf("%s failed (%v): %s", tool, err, msg)
}

// tablesQuery lists the tables whose rows pg_dump dumps: ordinary tables
// (partitions included, partitioned parents hold no rows) outside the
// system schemas, not belonging to an extension.
const tablesQuery = `
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// tableSummaries reads every table's row count and checksum (see
// TableSummary). The checksum is an order-independent sum of row hashes,
// not md5(string_agg(...)): that one sorts the whole table and fails past
// 1 GB of text, this one streams.
func tableSummaries(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}) ([]TableSummary, error) {
	rows, err := q.Query(ctx, tablesQuery)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TableSummary, error) {
		var t TableSummary
		err := row.Scan(&t.Schema, &t.Name)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	for i := range tables {
		t := &tables[i]
		ident := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		// ROW(r.*) is the whole row even when a column is named r.
		sql := `SELECT count(*), coalesce(sum(('x' || substr(md5(ROW(r.*)::text), 1, 16))::bit(64)::bigint::numeric), 0)::text FROM ONLY ` +
			ident + ` r`
		if err := q.QueryRow(ctx, sql).Scan(&t.Rows, &t.Checksum); err != nil {
			return nil, fmt.Errorf("summarising table %s: %w", ident, err)
		}
	}
	return tables, nil
}

// databaseContents counts the user objects of a database; a restore
// refuses a target where it is not empty, unless forced.
const databaseContents = `
SELECT
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'),
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
  (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
       AND t.typtype IN ('b', 'd', 'e', 'r', 'm')),
  (SELECT count(*) FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'),
  (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')`

// describeContents returns "" for an empty database, else what it holds.
func describeContents(ctx context.Context, conn *pgx.Conn) (string, error) {
	var rels, funcs, types, schemas, exts int64
	if err := conn.QueryRow(ctx, databaseContents).Scan(&rels, &funcs, &types, &schemas, &exts); err != nil {
		return "", fmt.Errorf("checking whether the target database is empty: %w", err)
	}
	var parts []string
	for _, c := range []struct {
		n    int64
		what string
	}{{rels, "relations"}, {funcs, "functions"}, {types, "types"}, {schemas, "schemas"}, {exts, "extensions"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", "), nil
}
