package commands

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/ui"
)

// ConfigShowOptions are the inputs of `config show`.
type ConfigShowOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
}

// configShowResult is the JSON/YAML form: shaped like the config file, so
// `config show -o yaml` is itself a valid config file (secrets redacted).
type configShowResult = map[string]any

func newConfigShowCmd(f *Factory, runF func(*ConfigShowOptions) error) *cobra.Command {
	opts := &ConfigShowOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration and where each value came from",
		Long: `Print every configuration key's effective value and its source: a flag, an
environment variable, the config file (with the line) or the default.

Secret values are redacted: literals show as <redacted>; file: and env:
references are shown as written, since they hold no secret.
With -o yaml the output is a config file that reproduces the settings
(the -o flag itself is left out of it).

Exit status: 0 shown; 2 the configuration does not load (every problem is
listed with its key and source).`,
		Example: `  repairxctl config show
  REPAIRX_ALERTS_SCRAPE_INTERVAL=30s repairxctl config show
  repairxctl config show -o yaml > repairxctl.yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			if runF != nil {
				return runF(opts)
			}
			return configShowRun(opts)
		},
	}
}

func configShowRun(opts *ConfigShowOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	tree := cfg.Tree()
	if strings.HasPrefix(cfg.Source("output"), "flag ") {
		// -o chose how this command prints, it is not a setting to keep:
		// `config show -o yaml > repairxctl.yaml` must not bake it in.
		delete(tree, "output")
	}
	return p.Print(configShowResult(tree), func(w io.Writer) error {
		if cfg.File != "" {
			fmt.Fprintf(opts.IO.ErrOut, "config file: %s\n", cfg.File)
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "config file: none found (using flags, environment and defaults)")
		}
		tp := ui.NewTablePrinter(opts.IO, "key", "value", "source")
		for _, s := range cfg.Settings() {
			tp.AddRow(s.Key, displayValue(s.Value), s.Source)
		}
		return tp.Render(w)
	})
}

// displayValue writes a setting compactly for a table cell.
func displayValue(v any) string {
	switch v := v.(type) {
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	case map[string][]string:
		parts := make([]string, 0, len(v))
		for _, k := range sortedKeys(v) {
			parts = append(parts, k+": ["+strings.Join(v[k], ", ")+"]")
		}
		return "{" + strings.Join(parts, "; ") + "}"
	case map[string]string:
		parts := make([]string, 0, len(v))
		for _, k := range sortedKeys(v) {
			parts = append(parts, k+": "+v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case string:
		if v == "" {
			return `""`
		}
		return v
	}
	return fmt.Sprint(v)
}
