package commands

import "github.com/spf13/cobra"

func newMigrateCmd(f *Factory) *cobra.Command {
	cmd := groupCmd("migrate <command>", "Apply and inspect the store's schema migrations", groupOperate)
	cmd.Long = `Apply and inspect the schema migrations of the store that serve and the user
commands keep: the embedded SQLite database in data_dir (repairx.db), or the
PostgreSQL database of database.url that several serve nodes share.

Migrations ship inside the binary and are applied in order, each in its own
transaction; an applied migration is never edited. serve and the user
commands apply pending migrations themselves, so 'migrate up' is for doing it
deliberately (before a rolling upgrade, say) and 'migrate status' for seeing
where a database stands. A database migrated by a newer repairxctl is
refused: upgrade repairxctl rather than downgrade the data.`
	cmd.AddCommand(
		newMigrateUpCmd(f, nil),
		newMigrateStatusCmd(f, nil),
	)
	addDatabaseURLFlag(cmd.PersistentFlags())
	return cmd
}

// migrationRow is one migration in the JSON and YAML output.
type migrationRow struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}
