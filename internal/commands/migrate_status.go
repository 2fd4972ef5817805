package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store/migrate"
	"github.com/repairx/repairxctl/internal/store/sqlite"
	"github.com/repairx/repairxctl/internal/ui"
)

// MigrateStatusOptions are the inputs of `migrate status`.
type MigrateStatusOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
	Now     func() time.Time
	// Status reads the migration states without creating or changing the
	// database; exists is false when there is no database yet.
	Status func(ctx context.Context, cfg *config.Config) (path string, states []migrate.State, exists bool, err error)
}

type migrateStatusResult struct {
	FormatVersion int              `json:"format_version"`
	Database      string           `json:"database"`
	Exists        bool             `json:"exists"`
	Migrations    []migrationState `json:"migrations"`
	Summary       schemaSummary    `json:"summary"`
}

// migrationState is one migration's state in the output.
type migrationState struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Status is applied, pending, modified (applied with other content
	// than this binary's) or unknown (applied by a newer repairxctl).
	Status    string     `json:"status"`
	AppliedAt *time.Time `json:"applied_at"`
}

func newMigrateStatusCmd(f *Factory, runF func(*MigrateStatusOptions) error) *cobra.Command {
	opts := &MigrateStatusOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "status",
		Short: "List the schema migrations and whether each is applied",
		Long: `List every migration this binary knows and every one the store (the
PostgreSQL database of database.url, else the SQLite database in data_dir)
has applied, by version, with its state and when it was applied. It changes
nothing and creates no database: without one, every migration is pending.

States: applied; pending (run 'repairxctl migrate up'); unknown (applied by
a newer repairxctl: upgrade this one); modified (applied with other content
than this binary's migration: a release edited a migration, which must not
happen).

Exit status: 0 listed (pending migrations included); 3 the database has an
unknown or modified migration, which serve and the user commands refuse;
1 the database could not be read; 2 bad usage or configuration; 4 PostgreSQL
refused the credentials; 75 PostgreSQL could not be reached (safe to retry).`,
		Example: `  repairxctl migrate status
  repairxctl migrate status -o json | jq '.summary.pending'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			opts.Now = f.Now
			opts.Status = schemaStatus
			if runF != nil {
				return runF(opts)
			}
			return migrateStatusRun(cmd.Context(), opts)
		},
	}
}

// embeddedSchemaStatus reads the embedded store's migration states, or,
// when there is no database file yet, reports every migration pending.
func embeddedSchemaStatus(ctx context.Context, cfg *config.Config) (string, []migrate.State, bool, error) {
	path, err := storePath(cfg)
	if err != nil {
		return "", nil, false, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		ms, err := sqlite.Migrations()
		if err != nil {
			return path, nil, false, err
		}
		states := make([]migrate.State, len(ms))
		for i, m := range ms {
			states[i] = migrate.State{Version: m.Version, Name: m.Name}
		}
		return path, states, false, nil
	}
	s, path, err := openEmbeddedStore(ctx, cfg)
	if err != nil {
		return path, nil, true, err
	}
	defer s.Close()
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		return path, nil, true, fmt.Errorf("reading the migrations of the store %s: %w", path, err)
	}
	return path, states, true, nil
}

func migrateStatusRun(ctx context.Context, opts *MigrateStatusOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	path, states, exists, err := opts.Status(ctx, cfg)
	if err != nil {
		return err
	}
	res := migrateStatusResult{FormatVersion: 1, Database: path, Exists: exists, Migrations: []migrationState{}, Summary: summariseSchema(states)}
	for _, st := range states {
		row := migrationState{Version: st.Version, Name: st.Name, Status: "pending"}
		switch {
		case st.Unknown:
			row.Status = "unknown"
		case st.Modified:
			row.Status = "modified"
		case st.Applied:
			row.Status = "applied"
		}
		if st.Applied {
			at := st.AppliedAt.UTC()
			row.AppliedAt = &at
		}
		res.Migrations = append(res.Migrations, row)
	}
	now := opts.Now()
	err = p.Print(res, func(w io.Writer) error {
		tp := ui.NewTablePrinter(opts.IO, "version", "name", "status", "applied")
		for _, m := range res.Migrations {
			applied := ""
			if m.AppliedAt != nil {
				applied = opts.IO.Time(*m.AppliedAt, now)
			}
			tp.AddRow(strconv.Itoa(m.Version), m.Name, m.Status, applied)
		}
		return tp.Render(w)
	})
	if err != nil {
		return err
	}
	sum := res.Summary
	if p.Format == ui.Table && !cfg.Quiet {
		cs := opts.IO.ErrScheme()
		switch {
		case sum.Unknown > 0 || sum.Modified > 0:
			fmt.Fprintf(opts.IO.ErrOut, "%s %s: %d unknown, %d modified: serve and the user commands refuse it (see --help)\n",
				cs.Red.Render("✗"), ui.Sanitize(path), sum.Unknown, sum.Modified)
		case !exists:
			fmt.Fprintf(opts.IO.ErrOut, "no store at %s yet: 'repairxctl migrate up' creates it\n", ui.Sanitize(path))
		case sum.Pending > 0:
			fmt.Fprintf(opts.IO.ErrOut, "%s %s pending at schema version %d: run 'repairxctl migrate up'\n",
				cs.Yellow.Render("!"), plural(sum.Pending, "migration"), sum.Version)
		default:
			opts.IO.Successf("up to date at schema version %d", sum.Version)
		}
	}
	if sum.Unknown > 0 || sum.Modified > 0 {
		return exitcode.Findingsf("the store %s has %d unknown and %d modified migrations", path, sum.Unknown, sum.Modified)
	}
	return nil
}
