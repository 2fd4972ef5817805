package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// ConfigInitOptions are the inputs of `config init`.
type ConfigInitOptions struct {
	IO    *ui.IOStreams
	Path  string
	Force bool
	Quiet bool
}

func newConfigInitCmd(f *Factory, runF func(*ConfigInitOptions) error) *cobra.Command {
	opts := &ConfigInitOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented example configuration",
		Long: `Write a commented example configuration that passes 'config validate' to FILE
(default: the --config file if one is named, else ./repairxctl.yaml), or to
stdout when FILE is "-". The file is
created with mode 0600 because it may come to hold secrets. An existing file
is not overwritten unless --force is given.

Exit status: 0 written; 2 the file exists (without --force) or bad usage;
1 the file could not be written.`,
		Example: `  repairxctl config init
  repairxctl config init /etc/repairxctl/config.yaml
  repairxctl config init - | less`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			// init must not load the configuration it is about to write.
			opts.Path = flagOrEnv(cmd, "config", configEnv)
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if opts.Path == "" {
				opts.Path = "repairxctl.yaml"
			}
			opts.Quiet, _ = strconv.ParseBool(flagOrEnv(cmd, "quiet", config.EnvName("quiet")))
			if runF != nil {
				return runF(opts)
			}
			return configInitRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "overwrite an existing file")
	return cmd
}

// flagOrEnv reads a setting without loading the configuration: the flag
// when set, else the environment variable.
func flagOrEnv(cmd *cobra.Command, flag, env string) string {
	if fl := cmd.Flags().Lookup(flag); fl != nil && fl.Changed {
		return fl.Value.String()
	}
	return os.Getenv(env)
}

func configInitRun(opts *ConfigInitOptions) error {
	if opts.Path == "-" {
		_, err := opts.IO.Out.Write(config.Example)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(opts.Path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return exitcode.Usagef("%s already exists: use --force to overwrite it, or name another file", opts.Path)
	}
	if err != nil {
		return fmt.Errorf("writing the example config: %w", err)
	}
	// --force keeps the old file's mode: tighten it, as for a new file.
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return fmt.Errorf("writing %s: %w", opts.Path, err)
	}
	if _, err := fh.Write(config.Example); err != nil {
		fh.Close()
		return fmt.Errorf("writing %s: %w", opts.Path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Path, err)
	}
	if !opts.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "wrote %s; check it with: repairxctl --config %s config validate\n", opts.Path, opts.Path)
	}
	return nil
}
