package commands

import (
	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/exitcode"
)

func newCompletionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell to stdout.

Packages install these from the completions/ directory; to load them by hand:

  bash:        source <(repairxctl completion bash)
  zsh:         repairxctl completion zsh > "${fpath[1]}/_repairxctl"
  fish:        repairxctl completion fish > ~/.config/fish/completions/repairxctl.fish
  powershell:  repairxctl completion powershell | Out-String | Invoke-Expression

Exit status: 0 printed; 2 no or unknown shell.`,
		GroupID:               groupSetup,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		Args:                  usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.Root(), args[0], f.IOStreams.Out)
		},
	}
}

func writeCompletion(root *cobra.Command, shell string, w interface{ Write([]byte) (int, error) }) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return exitcode.Usagef("unknown shell %q: use bash, zsh, fish or powershell", shell)
}

var completionFiles = map[string]string{
	"bash":       "repairxctl.bash",
	"zsh":        "_repairxctl",
	"fish":       "repairxctl.fish",
	"powershell": "repairxctl.ps1",
}
