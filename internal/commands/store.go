package commands

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
	"github.com/repairx/repairxctl/internal/store/postgres"
	"github.com/repairx/repairxctl/internal/store/sqlite"
)

// schemaStore is what openStore returns: the store and its migrations.
type schemaStore = interface {
	store.Store
	store.Migrator
}

// storeOpener opens the store for a command; options carry one so that
// tests can hand a command a store of their own.
type storeOpener func(ctx context.Context, cfg *config.Config, migrate bool) (schemaStore, error)

// openStore opens the store the configuration names: the PostgreSQL
// database of database.url when it is set, else the embedded SQLite store in
// DataDir/repairx.db (the directory created 0700, the file 0600). With
// migrate it applies the pending migrations first; without, a database
// whose schema is not exactly this binary's is an error that says what to
// run, so that serve never works on a half-migrated database.
func openStore(ctx context.Context, cfg *config.Config, migrate bool) (schemaStore, error) {
	s, name, err := openSchemaStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, migrateError(name, err)
		}
		return s, nil
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("reading the schema version of the store %s: %w", name, err)
	}
	if err := checkSchema(name, states); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openSchemaStore opens the configured store without looking at its schema,
// and returns its name for messages: the SQLite file's path, or the
// PostgreSQL database as postgres://USER@HOST:PORT/DATABASE (never the
// password).
func openSchemaStore(ctx context.Context, cfg *config.Config) (schemaStore, string, error) {
	if cfg.Database.URL.IsSet() {
		s, name, err := openPostgresStore(ctx, cfg)
		if err != nil {
			return nil, "", err // not a nil *postgres.Store in a non-nil interface
		}
		return s, name, nil
	}
	s, path, err := openEmbeddedStore(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	return s, path, nil
}

// addDatabaseURLFlag adds --database-url, bound to database.url, to the
// commands that open the store.
func addDatabaseURLFlag(fs *pflag.FlagSet) {
	fs.String("database-url", "", "use the shared PostgreSQL store at `URL` (postgres://USER@HOST:PORT/DB; no password in it: PGPASSWORD, ~/.pgpass, or database.url as a secret)")
	bindKey(fs, "database-url", "database.url")
}

// checkURLFlag refuses a secret-bearing URL given as a flag: the process
// list, shell history and cron mail would show its password. The URL is
// still a secret when it comes from the file or the environment.
func checkURLFlag(cfg *config.Config, key, flag string, secret config.Secret, schemes ...string) error {
	if !strings.HasPrefix(cfg.Source(key), "flag") {
		return nil
	}
	raw, err := secret.Resolve()
	if err != nil {
		return exitcode.New(exitcode.Usage, cfg.Invalid(key, "%v", err))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return exitcode.Usagef("%s: not a %s URL", flag, strings.Join(schemes, "/"))
	}
	_, hasPass := u.User.Password()
	if hasPass || u.Query().Has("password") {
		return exitcode.Usagef("%s: the URL holds a password, which the process list, shell history and cron mail would show: "+
			"drop it and give the whole URL as a secret instead (%s=file:PATH, or %s in the config file)", flag, config.EnvName(key), key)
	}
	return nil
}

// openPostgresStore opens the shared store of database.url. The URL is a
// secret (a value, file:PATH or env:NAME), or a --database-url without a
// password, and no message shows it: they name the database without the
// password.
func openPostgresStore(ctx context.Context, cfg *config.Config) (*postgres.Store, string, error) {
	if err := checkURLFlag(cfg, "database.url", "--database-url", cfg.Database.URL, "postgres", "postgresql"); err != nil {
		return nil, "", err
	}
	url, err := cfg.Database.URL.Resolve()
	if err != nil {
		return nil, "", exitcode.New(exitcode.Usage, cfg.Invalid("database.url", "%v", err))
	}
	s, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, "", postgresOpenError(cfg, err)
	}
	return s, s.Name(), nil
}

// postgresOpenError gives a failed connection its exit code and says where
// the URL came from: a URL that does not parse is a configuration error
// (2), refused credentials are denied (4), an unreachable server a
// temporary failure (75, safe to retry).
func postgresOpenError(cfg *config.Config, err error) error {
	from := cfg.Source("database.url")
	switch {
	case errors.Is(err, store.ErrInvalid):
		return exitcode.New(exitcode.Usage, cfg.Invalid("database.url", "%v", err))
	case errors.Is(err, postgres.ErrAuthentication):
		return exitcode.New(exitcode.Denied, fmt.Errorf("%w (database.url from %s)", err, from))
	case errors.Is(err, postgres.ErrUnavailable):
		return exitcode.New(exitcode.TempFail, fmt.Errorf("%w (database.url from %s)", err, from))
	}
	return fmt.Errorf("%w (database.url from %s)", err, from)
}

// schemaStatus reads the configured store's migration states without
// creating or changing anything; exists is false when there is no
// database yet (an embedded store whose file is missing).
func schemaStatus(ctx context.Context, cfg *config.Config) (name string, states []migrate.State, exists bool, err error) {
	if !cfg.Database.URL.IsSet() {
		return embeddedSchemaStatus(ctx, cfg)
	}
	s, name, err := openPostgresStore(ctx, cfg)
	if err != nil {
		return "", nil, false, err
	}
	defer s.Close()
	states, err = s.MigrationStatus(ctx)
	if err != nil {
		return name, nil, true, fmt.Errorf("reading the migrations of the store %s: %w", name, err)
	}
	return name, states, true, nil
}

// storePath returns the embedded store's file.
func storePath(cfg *config.Config) (string, error) {
	if cfg.DataDir == "" {
		return "", exitcode.New(exitcode.Usage, cfg.Invalid("data_dir", "is empty: set --data-dir, %s or data_dir", config.EnvName("data_dir")))
	}
	path, err := filepath.Abs(filepath.Join(cfg.DataDir, sqlite.DefaultFileName))
	if err != nil {
		return "", fmt.Errorf("locating the store in %s: %w", cfg.DataDir, err)
	}
	return path, nil
}

// openEmbeddedStore opens (creating when missing) the SQLite store without
// looking at its schema.
func openEmbeddedStore(ctx context.Context, cfg *config.Config) (*sqlite.Store, string, error) {
	path, err := storePath(cfg)
	if err != nil {
		return nil, "", err
	}
	// The store holds password hashes and TOTP secrets: only its owner may
	// even list the directory.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("creating the data directory: %w (set --data-dir or %s to a writable directory)", err, config.EnvName("data_dir"))
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", err
	}
	return s, path, nil
}

// migrateError explains a failed migration; a database from a newer
// repairxctl cannot be fixed by migrating again.
func migrateError(path string, err error) error {
	if errors.Is(err, migrate.ErrUnknownMigration) || errors.Is(err, migrate.ErrModified) {
		return fmt.Errorf("the store %s: %w (see 'repairxctl migrate status')", path, err)
	}
	return fmt.Errorf("migrating the store %s: %w", path, err)
}

// schemaSummary counts migration states.
type schemaSummary struct {
	Version  int `json:"version"` // highest applied version; 0 when none
	Applied  int `json:"applied"`
	Pending  int `json:"pending"`
	Unknown  int `json:"unknown"`
	Modified int `json:"modified"`
}

func summariseSchema(states []migrate.State) schemaSummary {
	var s schemaSummary
	for _, st := range states {
		switch {
		case st.Unknown:
			s.Unknown++
		case st.Modified:
			s.Modified++
		case !st.Applied:
			s.Pending++
		}
		if st.Applied {
			s.Applied++
			s.Version = max(s.Version, st.Version)
		}
	}
	return s
}

// checkSchema refuses a database whose schema is not this binary's, saying
// what to do about it.
func checkSchema(path string, states []migrate.State) error {
	for _, st := range states {
		switch {
		case st.Unknown:
			return fmt.Errorf("the store %s was migrated by a newer repairxctl (it has migration %04d_%s, which this binary does not know): "+
				"upgrade repairxctl; 'repairxctl migrate status' lists the migrations", path, st.Version, st.Name)
		case st.Modified:
			return fmt.Errorf("the store %s has migration %04d_%s applied with other content than this binary's: "+
				"a migration must not change once released; 'repairxctl migrate status' lists them", path, st.Version, st.Name)
		}
	}
	sum := summariseSchema(states)
	if sum.Pending == 0 {
		return nil
	}
	if sum.Applied == 0 {
		return fmt.Errorf("the store %s has no schema yet: run 'repairxctl migrate up' first", path)
	}
	return fmt.Errorf("the store %s is at schema version %d with %s pending: run 'repairxctl migrate up' first",
		path, sum.Version, plural(sum.Pending, "migration"))
}
