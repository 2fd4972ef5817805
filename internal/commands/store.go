package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/migrate"
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

// openStore opens the store the configuration names: the embedded SQLite
// store in DataDir/repairx.db (the directory created 0700, the file 0600).
// With migrate it applies the pending migrations first; without, a database
// whose schema is not exactly this binary's is an error that says what to
// run, so that serve never works on a half-migrated database.
func openStore(ctx context.Context, cfg *config.Config, migrate bool) (interface {
	store.Store
	store.Migrator
}, error) {
	s, path, err := openEmbeddedStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, migrateError(path, err)
		}
		return s, nil
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("reading the schema version of the store %s: %w", path, err)
	}
	if err := checkSchema(path, states); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// storePath returns the embedded store's file, refusing a configuration
// that names a PostgreSQL database (not in this build).
func storePath(cfg *config.Config) (string, error) {
	if cfg.Database.URL.IsSet() {
		return "", exitcode.New(exitcode.Usage, cfg.Invalid("database.url",
			"PostgreSQL is not supported by this build of repairxctl yet: unset database.url to use the embedded store in data_dir"))
	}
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
