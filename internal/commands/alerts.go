package commands

import "github.com/spf13/cobra"

func newAlertsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alerts <command>",
		Short:   "Validate Prometheus rule files and Alertmanager configs",
		GroupID: groupCheck,
	}
	cmd.AddCommand(newAlertsValidateCmd(f, nil))
	return cmd
}
