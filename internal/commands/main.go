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
	"strconv"
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
	// The first signal cancels ctx so the command can clean up; restoring
	// the default handlers then lets a second signal end the process at
	// once, even when the command is blocked (reading stdin, say).
	go func() {
		<-ctx.Done()
		stop()
	}()
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
		printError(f, args, cmd, err, code)
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

func printError(f *Factory, args []string, cmd *cobra.Command, err error, code int) {
	w := f.IOStreams.ErrOut
	if format := earlySetting(f, args, "output", "o"); format == "json" || format == "ndjson" {
		_ = ui.WriteNDJSON(w, struct {
			Error jsonError `json:"error"`
		}{jsonError{Message: err.Error(), Code: code, Name: codeName(code)}})
		return
	}
	if v := earlySetting(f, args, "no-color", ""); v != "" && v != "false" {
		f.IOStreams.DisableColor()
	}
	red := f.IOStreams.ErrScheme().Red
	for i, line := range strings.Split(err.Error(), "\n") {
		prefix := "Error: "
		if i > 0 {
			prefix = "       "
		}
		// Messages can quote input (file content, values): sanitise them,
		// after turning cobra's own tab indents into spaces.
		fmt.Fprintln(w, red.Render(prefix)+ui.Sanitize(strings.ReplaceAll(line, "\t", "    ")))
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

// earlySetting returns a global setting without needing the configuration,
// for printing errors (the configuration may be what failed) and for the
// commands that must work with a broken one: the loaded configuration when
// there is one, else the flag as written in args (parsing may have stopped
// before it), else the environment.
func earlySetting(f *Factory, args []string, flag, short string) string {
	if f.loaded != nil {
		switch flag {
		case "output":
			return f.loaded.Output
		case "no-color":
			return strconv.FormatBool(f.loaded.NoColor)
		case "quiet":
			return strconv.FormatBool(f.loaded.Quiet)
		}
	}
	if v, ok := rawFlag(args, flag, short); ok {
		return v
	}
	return os.Getenv(config.EnvName(strings.ReplaceAll(flag, "-", "_")))
}

// rawFlag finds --name=V, --name V, -s V or -sV in args, and a bare --name
// as "true", stopping at "--".
func rawFlag(args []string, name, short string) (string, bool) {
	val, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "--":
			return val, found
		case a == "--"+name:
			if name == "no-color" || name == "quiet" {
				val, found = "true", true
			} else {
				val, found = next(), true
			}
		case strings.HasPrefix(a, "--"+name+"="):
			val, found = strings.TrimPrefix(a, "--"+name+"="), true
		case short != "" && a == "-"+short:
			val, found = next(), true
		case short != "" && strings.HasPrefix(a, "-"+short) && !strings.HasPrefix(a, "--"):
			val, found = strings.TrimPrefix(a, "-"+short), true
		}
	}
	return val, found
}
