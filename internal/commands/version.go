package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
	"github.com/repairx/repairxctl/internal/version"
)

// VersionOptions are the inputs of `version`.
type VersionOptions struct {
	IO     *ui.IOStreams
	Build  version.Info
	Format func() (ui.Format, error)
}

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams, Build: f.Build}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Long: `Print the version, commit, build date, Go version and platform of this
binary. It reads no configuration file, so it works whatever state the
configuration is in.

Exit status: 0 printed; 2 bad usage or output format.`,
		Args:    usageArgs(cobra.NoArgs),
		GroupID: groupSetup,
		Example: `  repairxctl version
  repairxctl version -o json | jq -r .version`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// version must work whatever state the config file is in (it is
			// what people run first when something is wrong), so it reads -o
			// and REPAIRX_OUTPUT without loading the configuration.
			opts.Format = func() (ui.Format, error) {
				value, source := flagOrEnv(cmd, "output", config.EnvName("output")), "env "+config.EnvName("output")
				if fl := cmd.Flags().Lookup("output"); fl != nil && fl.Changed {
					source = "flag --output"
				}
				if value == "" {
					value = "table"
				}
				format, err := ui.ParseFormat(value, ui.Table, ui.JSON, ui.YAML)
				if err != nil {
					return "", exitcode.New(exitcode.Usage, &config.Errors{{Key: "output", Source: source, Msg: err.Error()}})
				}
				return format, nil
			}
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	return cmd
}

func versionRun(opts *VersionOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	p := &ui.Printer{IO: opts.IO, Format: format}
	return p.Print(opts.Build, func(w io.Writer) error {
		b := opts.Build
		_, err := fmt.Fprintf(w, "repairxctl %s\ncommit:  %s\nbuilt:   %s\ngo:      %s %s\n", b.Version, b.Commit, b.Date, b.GoVersion, b.Platform)
		return err
	})
}
