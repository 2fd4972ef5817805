package commands

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
	"github.com/repairx/repairxctl/internal/version"
)

// Factory hands commands their dependencies, built lazily so that a command
// that needs no configuration (version, completion) never reads it. Tests
// replace the fields.
type Factory struct {
	IOStreams *ui.IOStreams
	Build     version.Info
	Now       func() time.Time

	// Config returns the configuration for the command being run, loaded
	// once after its flags are parsed; errors are usage errors (exit 2).
	Config func() (*config.Config, error)

	// loaded is the configuration once Config succeeded, so that errors are
	// printed in the configured format.
	loaded *config.Config
}

// NewFactory returns the production factory.
func NewFactory(ios *ui.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, Build: version.Get(), Now: time.Now}
	f.Config = func() (*config.Config, error) {
		return nil, exitcode.Usagef("internal error: configuration requested before flags were parsed")
	}
	return f
}

// bindConfig makes f.Config load the configuration for cmd, whose flags have
// just been parsed. Called from the root command's PersistentPreRunE.
func (f *Factory) bindConfig(cmd *cobra.Command, configFile, configSource string) {
	load := sync.OnceValues(func() (*config.Config, error) {
		cfg, err := config.Load(config.LoadOptions{File: configFile, FileSource: configSource, Flags: cmd.Flags()})
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		if cfg.NoColor {
			f.IOStreams.DisableColor()
		}
		f.loaded = cfg
		return cfg, nil
	})
	f.Config = load
}

// Printer returns a printer for the configured output format, which must be
// one of supported; the error names where the format was set.
func (f *Factory) Printer(cfg *config.Config, supported ...ui.Format) (*ui.Printer, error) {
	format, err := ui.ParseFormat(cfg.Output, supported...)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, cfg.Invalid("output", "%v", err))
	}
	return &ui.Printer{IO: f.IOStreams, Format: format}, nil
}

// Logger returns the logger for diagnostics on stderr: warnings by default,
// debug with --verbose, errors only with --quiet. Results never go here.
func (f *Factory) Logger(cfg *config.Config) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case cfg.Verbose:
		level = slog.LevelDebug
	case cfg.Quiet:
		level = slog.LevelError
	}
	var w io.Writer = f.IOStreams.ErrOut
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
