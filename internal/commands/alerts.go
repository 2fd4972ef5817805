package commands

import "github.com/spf13/cobra"

func newAlertsCmd(f *Factory) *cobra.Command {
	cmd := groupCmd("alerts <command>", "Validate Prometheus rule files and Alertmanager configs", groupCheck)
	cmd.AddCommand(newAlertsValidateCmd(f, nil))
	return cmd
}
