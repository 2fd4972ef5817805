package commands

import "github.com/spf13/cobra"

func newUserEnableCmd(f *Factory, runF func(*UserDisableOptions) error) *cobra.Command {
	return newUserSetDisabledCmd(f, runF, false, &cobra.Command{
		Use:   "enable USER",
		Short: "Re-enable a disabled account",
		Long: `Re-enable the disabled account USER (an e-mail address or id) so that it can
sign in again with its password (and 2FA, if enrolled). Sessions ended by
'user disable' stay ended. A user.disable audit event with details.disabled
false is written; enabling an enabled account changes nothing.

Exit status: 0 enabled, or already enabled; 10 no such user; 2 bad usage or
configuration; 1 the store failed.`,
		Example: `  repairxctl user enable returner@example.com`,
	})
}
