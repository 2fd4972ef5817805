package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// debianPostgresBinDir is where Debian's postgresql-15 keeps the server and its
// tools, off PATH since several major versions may be installed side by side.
const debianPostgresBinDir = "/usr/lib/postgresql/15/bin"

// PostgresServer is a PostgreSQL server whose superuser, postgres, needs no
// password (trust authentication on 127.0.0.1).
type PostgresServer struct {
	binDir  string
	port    int
	version string
}

// Postgres returns the package's shared PostgreSQL server, starting it on first
// use. Tests isolate themselves with NewDatabase.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	requireMain(t)
	binDir := postgresBinDir()
	if binDir == "" {
		missing(t, os.Getenv("CI"), "PostgreSQL 15 (package postgresql-15)")
		return nil
	}
	cred, err := postgresCredential()
	if err != nil {
		missing(t, os.Getenv("CI"), "the postgres system user (package postgresql-15)")
		return nil
	}
	began, started := time.Now(), false
	pg, err := shared.postgres.get(func() (*PostgresServer, error) {
		started = true
		return startPostgres(binDir, cred)
	})
	if err != nil {
		t.Fatalf("testenv: start PostgreSQL: %v", err)
	}
	if started {
		logStart(t, "PostgreSQL "+pg.version, hostPort(pg.port), began)
	}
	return pg
}

// postgresBinDir finds the server's directory: Debian's PostgreSQL 15, else
// whichever initdb is on PATH. "" means none.
func postgresBinDir() string {
	for _, dir := range []string{debianPostgresBinDir, pathDir("initdb")} {
		if dir != "" && isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	return ""
}

func pathDir(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return filepath.Dir(p)
}

// postgresCredential returns who runs the server: PostgreSQL refuses to run as
// root, so root hands it to the postgres system user; anyone else runs it as
// themselves (nil).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	// An empty Groups drops root's supplementary groups.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func startPostgres(binDir string, cred *syscall.Credential) (*PostgresServer, error) {
	s, err := newServer("postgres")
	if err != nil {
		return nil, err
	}
	pg, err := launchPostgres(s, binDir, cred)
	if err != nil {
		s.close()
		return nil, err
	}
	return pg, nil
}

func launchPostgres(s *server, binDir string, cred *syscall.Credential) (*PostgresServer, error) {
	if cred != nil {
		// The directory is 0700: only its owner, the server, may enter it.
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := startContext()
	defer cancel()
	data := filepath.Join(s.dir, "data")
	// C locale and UTF8: the same database everywhere, whatever the machine's
	// locale; --no-sync because the cluster dies with the test binary.
	if _, err := run(ctx, command{
		name: "initdb",
		path: filepath.Join(binDir, "initdb"),
		args: []string{"-D", data, "--auth=trust", "--no-sync", "-U", "postgres", "-E", "UTF8", "--locale=C"},
		dir:  s.dir,
		cred: cred,
	}); err != nil {
		return nil, err
	}
	pg := &PostgresServer{binDir: binDir}
	_, err := withFreePort(func(port int) (struct{}, error) {
		url := postgresURL(port, "postgres")
		proc, err := startServer(ctx, command{
			name: "postgres",
			path: filepath.Join(binDir, "postgres"),
			// Durability costs time and buys nothing for a throwaway cluster.
			args: []string{
				"-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
				"-c", "listen_addresses=127.0.0.1",
				"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
				"-c", "max_connections=200",
			},
			dir:     s.dir,
			cred:    cred,
			stopSig: syscall.SIGINT, // "fast" shutdown: ends sessions, removes shared memory
		}, func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			version := conn.PgConn().ParameterStatus("server_version")
			pg.version, _, _ = strings.Cut(version, " ")
			return nil
		})
		if err != nil {
			return struct{}{}, err
		}
		s.proc, pg.port = proc, port
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	return pg, nil
}

func postgresURL(port int, database string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", hostPort(port), database)
}

// URL returns the superuser's URL for the postgres database, for administration;
// tests work in a database of their own (NewDatabase).
func (pg *PostgresServer) URL() string { return postgresURL(pg.port, "postgres") }

// BinDir returns the directory of the server's binaries, whose pg_dump and
// pg_restore match the server's version.
func (pg *PostgresServer) BinDir() string { return pg.binDir }

// Version returns the server's version, e.g. "15.18".
func (pg *PostgresServer) Version() string { return pg.version }

// NewDatabase creates an empty database for the test, dropped when the test
// ends, and returns its URL (superuser postgres, no password).
func (pg *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	name := uniqueName(t, '_', 63) // PostgreSQL truncates identifiers at 63 bytes
	ident := pgx.Identifier{name}.Sanitize()
	if err := pg.exec("CREATE DATABASE " + ident); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: a test may leave connections open, e.g. a pool closed later.
		if err := pg.exec("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return postgresURL(pg.port, name)
}

// exec runs one statement as the superuser; CREATE and DROP DATABASE cannot
// run inside a transaction, so there is none.
func (pg *PostgresServer) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
