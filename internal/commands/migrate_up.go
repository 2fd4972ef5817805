package commands

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/ui"
)

// MigrateUpOptions are the inputs of `migrate up`.
type MigrateUpOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
	// Open opens the store without migrating it; Path names it in messages.
	Open func(ctx context.Context, cfg *config.Config) (schemaStore, string, error)
}

type migrateUpResult struct {
	FormatVersion int            `json:"format_version"`
	Database      string         `json:"database"`
	Applied       []migrationRow `json:"applied"`
	Summary       schemaSummary  `json:"summary"`
}

func newMigrateUpCmd(f *Factory, runF func(*MigrateUpOptions) error) *cobra.Command {
	opts := &MigrateUpOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "up",
		Short: "Apply the pending schema migrations",
		Long: `Apply the pending schema migrations to the store (the PostgreSQL database
of database.url when it is set, else the SQLite database in data_dir, created
mode 0600 when there is none) and list those applied. Running it again
applies nothing: it is safe in a deploy script, and concurrent runs (another
node, a starting serve) apply each migration once.

A database holding a migration this binary does not know (migrated by a
newer repairxctl) or one whose applied migration differs from the binary's is
refused and left untouched.

Exit status: 0 applied, or nothing was pending; 1 a migration failed (it is
rolled back; the ones before it stay), or the database is newer than this
binary or was modified; 2 bad usage or configuration (a database.url that
does not parse); 4 PostgreSQL refused the credentials; 75 PostgreSQL could
not be reached (safe to retry).`,
		Example: `  repairxctl migrate up
  repairxctl migrate up --data-dir /var/lib/repairxctl -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			opts.Open = openSchemaStore
			if runF != nil {
				return runF(opts)
			}
			return migrateUpRun(cmd.Context(), opts)
		},
	}
}

func migrateUpRun(ctx context.Context, opts *MigrateUpOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	s, path, err := opts.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		// Say what did land before the failure: it stays applied.
		for _, m := range applied {
			fmt.Fprintf(opts.IO.ErrOut, "applied %04d_%s\n", m.Version, m.Name)
		}
		return migrateError(path, err)
	}
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version of the store %s: %w", path, err)
	}
	res := migrateUpResult{FormatVersion: 1, Database: path, Applied: []migrationRow{}, Summary: summariseSchema(states)}
	for _, m := range applied {
		res.Applied = append(res.Applied, migrationRow{Version: m.Version, Name: m.Name})
	}
	err = p.Print(res, func(w io.Writer) error {
		tp := ui.NewTablePrinter(opts.IO, "version", "name")
		for _, m := range res.Applied {
			tp.AddRow(strconv.Itoa(m.Version), m.Name)
		}
		return tp.Render(w)
	})
	if err != nil {
		return err
	}
	if p.Format == ui.Table && !cfg.Quiet {
		if len(applied) == 0 {
			opts.IO.Successf("%s is up to date at schema version %d", path, res.Summary.Version)
		} else {
			opts.IO.Successf("applied %s to %s: schema version %d", plural(len(applied), "migration"), path, res.Summary.Version)
		}
	}
	return nil
}
