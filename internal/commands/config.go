package commands

import "github.com/spf13/cobra"

func newConfigCmd(f *Factory) *cobra.Command {
	cmd := groupCmd("config <command>", "Show, validate and start the configuration", groupSetup)
	cmd.Long = `Show, validate and start repairxctl's configuration.

Precedence, highest first: flags, REPAIRX_* environment variables (the key
upper-cased, dots as underscores: alerts.scrape_interval is
REPAIRX_ALERTS_SCRAPE_INTERVAL), the config file, defaults.

Secrets (such as database.url) are never flags. Give them in the file or the
environment as a value, as file:PATH or as env:NAME; they are redacted
whenever the configuration is shown.`
	cmd.AddCommand(
		newConfigShowCmd(f, nil),
		newConfigValidateCmd(f, nil),
		newConfigInitCmd(f, nil),
	)
	return cmd
}
