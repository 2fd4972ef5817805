package commands

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

func testRoot() *cobra.Command {
	ios, _, _, _ := ui.Test()
	return NewRootCmd(NewFactory(ios))
}

// TestGeneratedFilesCurrent fails when docs/cli, docs/man or completions/
// no longer match the command tree: run `make docs completions`.
func TestGeneratedFilesCurrent(t *testing.T) {
	for kind, dir := range map[string]string{
		"docs":        "../../docs/cli",
		"man":         "../../docs/man",
		"completions": "../../completions",
	} {
		stale, err := Generate(testRoot(), &GenerateOptions{Kind: kind, Dir: dir, Check: true})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if len(stale) > 0 {
			t.Errorf("%s are stale, run `make docs completions` and commit:\n  %s", kind, strings.Join(stale, "\n  "))
		}
	}
}

// TestNoSharedShorthands: two flags of one command (its own or inherited)
// must not share a one-letter shorthand.
func TestNoSharedShorthands(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		seen := map[string]string{}
		c.Flags().VisitAll(func(f *pflag.Flag) { note(t, c, seen, f) })
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) { note(t, c, seen, f) })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(testRoot())
}

func note(t *testing.T, c *cobra.Command, seen map[string]string, f *pflag.Flag) {
	if f.Shorthand == "" {
		return
	}
	if other, ok := seen[f.Shorthand]; ok && other != f.Name {
		t.Errorf("%s: -%s is both --%s and --%s", c.CommandPath(), f.Shorthand, other, f.Name)
	}
	seen[f.Shorthand] = f.Name
}

// TestExitCodesDocumented keeps docs/exit-codes.md and exitcode.Table equal.
func TestExitCodesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "exit-codes.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (\d+) \| ([a-z-]+) \| (.+) \|$`).FindAllStringSubmatch(string(b), -1)
	documented := map[int]string{}
	for _, r := range rows {
		code, _ := strconv.Atoi(r[1])
		documented[code] = r[2]
	}
	for _, row := range exitcode.Table {
		if name, ok := documented[row.Code]; !ok || name != row.Name {
			t.Errorf("exit code %d (%s) is not documented as such in docs/exit-codes.md (found %q)", row.Code, row.Name, name)
		}
		delete(documented, row.Code)
	}
	for code, name := range documented {
		t.Errorf("docs/exit-codes.md documents %d (%s), which exitcode.Table lacks", code, name)
	}
}

// TestEveryCommandDocumented: every visible command has a short line, and
// every leaf an example, so the generated reference reads as finished.
func TestEveryCommandDocumented(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Short == "" {
			t.Errorf("%s has no Short description", c.CommandPath())
		}
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" && c.Name() != "completion" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		if c.Runnable() && !c.HasSubCommands() && !strings.Contains(c.Long, "Exit status: ") {
			t.Errorf("%s does not document its exit status (\"Exit status: ...\" in Long)", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(testRoot())
}
