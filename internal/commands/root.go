package commands

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
)

// Command groups in `repairxctl --help`. Later commands join these: check
// (checklist); operate: serve, user, migrate, then backup, audit, kpi,
// secrets and runbook.
const (
	groupOperate = "operate"
	groupCheck   = "check"
	groupSetup   = "setup"
)

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "repairxctl <command> [flags]",
		Short: "Operate the RepairX platform: API security, backups, audit, KPIs, secrets and checks",
		Long: `repairxctl is the operations toolkit for the RepairX platform.

It serves the platform API's security stack and carries the operator's tools
around it: alert rule validation today; backups, the audit log, KPIs, secret
rotation, the security checklist and incident runbooks as they land.

Configuration comes from flags, then REPAIRX_* environment variables, then the
config file (--config, else ./repairxctl.yaml, $XDG_CONFIG_HOME/repairxctl/config.yaml,
/etc/repairxctl/config.yaml), then defaults. Run 'repairxctl config init' to
write a commented example and 'repairxctl config show' to see every setting
and where it came from.

Every command prints its result on stdout (-o json or yaml for scripts) and
everything else on stderr, and ends with an exit code documented in
docs/exit-codes.md: 0 ok, 1 failed, 2 usage or configuration error,
3 findings, 130 interrupted.`,
		Example: `  # Validate alerting rules and Alertmanager configs, as CI does
  repairxctl alerts validate deploy/prometheus/ --strict

  # The same, as GitHub workflow annotations
  repairxctl alerts validate --format github deploy/prometheus/

  # Start a config file, then check it
  repairxctl config init
  repairxctl config validate`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			source := "flag --config"
			if configFile == "" {
				configFile, source = os.Getenv(configEnv), "env "+configEnv
			}
			f.bindConfig(cmd, configFile, source)
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return exitcode.New(exitcode.Usage, err)
	})
	root.CompletionOptions.DisableDefaultCmd = true

	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "read configuration from `FILE` (env REPAIRX_CONFIG)")
	pf.String("data-dir", "", "keep the embedded store and run state in `DIR` (default $XDG_DATA_HOME/repairxctl)")
	bindKey(pf, "data-dir", "data_dir")
	pf.StringP("output", "o", "table", "output `FORMAT`: table, json or yaml (ndjson where rows stream)")
	bindKey(pf, "output", "output")
	pf.Bool("no-color", false, "disable colour (also NO_COLOR, TERM=dumb)")
	bindKey(pf, "no-color", "no_color")
	pf.BoolP("verbose", "v", false, "log more detail to stderr")
	bindKey(pf, "verbose", "verbose")
	pf.BoolP("quiet", "q", false, "print only results and errors")
	bindKey(pf, "quiet", "quiet")
	root.MarkFlagsMutuallyExclusive("verbose", "quiet")
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")
	_ = root.MarkPersistentFlagDirname("data-dir")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "ndjson"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddGroup(
		&cobra.Group{ID: groupOperate, Title: "Operate:"},
		&cobra.Group{ID: groupCheck, Title: "Check and validate:"},
		&cobra.Group{ID: groupSetup, Title: "Set up:"},
	)
	root.SetHelpCommandGroupID(groupSetup)

	root.AddCommand(
		newServeCmd(f, nil),
		newUserCmd(f),
		newMigrateCmd(f),
		newBackupCmd(f),
		newAlertsCmd(f),
		newConfigCmd(f),
		newVersionCmd(f, nil),
		newCompletionCmd(f),
		newGenerateCmd(f),
	)
	return root
}

// usageArgs makes an argument validator's error a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return exitcode.New(exitcode.Usage, check(cmd, args))
	}
}

// configEnv names the config file when --config is not given.
const configEnv = config.EnvPrefix + "_CONFIG"

// groupCmd returns a command that only groups subcommands: run bare it
// prints its help; with an argument it is a usage error (exit 2), so a
// mistyped subcommand fails a CI job instead of printing help and passing.
func groupCmd(use, short, groupID string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		GroupID: groupID,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
}

// bindKey ties flag name to config key: Load lets the flag override the key
// when set, and the help names the key's environment variable.
func bindKey(fs *pflag.FlagSet, name, key string) {
	fl := fs.Lookup(name)
	fl.Usage += " (env " + config.EnvName(key) + ")"
	_ = fs.SetAnnotation(name, config.FlagKeyAnnotation, []string{key})
}
