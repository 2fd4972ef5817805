package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// ConfigValidateOptions are the inputs of `config validate`.
type ConfigValidateOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
}

type configValidateResult struct {
	FormatVersion int    `json:"format_version"`
	File          string `json:"file"`
	Valid         bool   `json:"valid"`
}

func newConfigValidateCmd(f *Factory, runF func(*ConfigValidateOptions) error) *cobra.Command {
	opts := &ConfigValidateOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and the secrets it refers to",
		Long: `Load the configuration from every source and check it: unknown keys (with a
suggestion), values of the wrong type, out-of-range values, and secret
references whose file or environment variable cannot be read, alert check
names and the alert policy file. Every problem is reported with its key and
where the value came from.

Exit status: 0 valid; 2 invalid.`,
		Example: `  repairxctl config validate
  repairxctl --config /etc/repairxctl/config.yaml config validate`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			if runF != nil {
				return runF(opts)
			}
			return configValidateRun(opts)
		},
	}
}

func configValidateRun(opts *ConfigValidateOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	// Resolving proves the file or variable is readable; the value is dropped.
	var errs config.Errors
	for _, s := range []struct {
		key    string
		secret config.Secret
	}{{"database.url", cfg.Database.URL}, {"redis.url", cfg.Redis.URL}, {"auth.key_encryption_key", cfg.Auth.KeyEncryptionKey}} {
		if !s.secret.IsSet() {
			continue
		}
		if _, err := s.secret.Resolve(); err != nil {
			errs = append(errs, config.Error{Key: s.key, Source: cfg.Source(s.key), Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return exitcode.New(exitcode.Usage, &errs)
	}
	// What commands check when they start (check names, the policy file).
	if _, err := alertsOptions(cfg, nil); err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	res := configValidateResult{FormatVersion: 1, File: cfg.File, Valid: true}
	return p.Print(res, func(w io.Writer) error {
		if cfg.File == "" {
			_, err := fmt.Fprintln(w, "configuration valid (no config file: flags, environment and defaults)")
			return err
		}
		_, err := fmt.Fprintf(w, "configuration valid: %s\n", ui.Sanitize(cfg.File))
		return err
	})
}
