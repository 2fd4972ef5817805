// Package commands is repairxctl's command tree: one file per command, each
// turning flags into options, calling a domain package and rendering the
// typed result. No domain logic lives here.
package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// Main runs repairxctl with the process's arguments and streams and returns
// the exit code; main passes it to os.Exit, and nothing else exits.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], NewFactory(ui.System()))
}

// Run executes one command line and returns its exit code, printing any
// error once to stderr (as JSON too when -o json was asked for).
func Run(ctx context.Context, args []string, f *Factory) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitcode.OK
	}
	if ctx.Err() != nil && exitcode.Code(err) == exitcode.Failure {
		err = exitcode.New(exitcode.Interrupted, fmt.Errorf("interrupted: %w", err))
	}
	err = classify(err)
	code := exitcode.Code(err)
	if !exitcode.IsSilent(err) {
		printError(f, root, cmd, err, code)
	}
	return code
}

// classify gives cobra's own untyped errors (unknown commands, flags and
// arguments) the usage exit code.
func classify(err error) error {
	var ee *exitcode.Error
	if errors.As(err, &ee) {
		return err
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "required flag", "accepts ", "requires at least", "requires at most", "if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return exitcode.New(exitcode.Usage, err)
		}
	}
	return err
}

func printError(f *Factory, root, cmd *cobra.Command, err error, code int) {
	w := f.IOStreams.ErrOut
	if wantsJSONErrors(root) {
		_ = ui.WriteNDJSON(w, struct {
			Error jsonError `json:"error"`
		}{jsonError{Message: err.Error(), Code: code, Name: codeName(code)}})
		return
	}
	red := f.IOStreams.ErrScheme().Red
	for i, line := range strings.Split(err.Error(), "\n") {
		prefix := "Error: "
		if i > 0 {
			prefix = "       "
		}
		fmt.Fprintln(w, red.Render(prefix)+ui.Sanitize(line))
	}
	var cfgErr *config.Errors
	if code == exitcode.Usage && !errors.As(err, &cfgErr) && cmd != nil {
		fmt.Fprintf(w, "Usage: %s\nRun '%s --help' for more.\n", cmd.UseLine(), cmd.CommandPath())
	}
}

type jsonError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
	Name    string `json:"name"`
}

func codeName(code int) string {
	for _, row := range exitcode.Table {
		if row.Code == code {
			return row.Name
		}
	}
	return "unknown"
}

// wantsJSONErrors reports whether the user asked for JSON output, looking at
// the flag and the environment directly: the configuration may be what failed.
func wantsJSONErrors(root *cobra.Command) bool {
	if fl := root.PersistentFlags().Lookup("output"); fl != nil && fl.Changed {
		return fl.Value.String() == "json" || fl.Value.String() == "ndjson"
	}
	v := os.Getenv(config.EnvName("output"))
	return v == "json" || v == "ndjson"
}
