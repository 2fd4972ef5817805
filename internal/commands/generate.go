package commands

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/repairx/repairxctl/internal/exitcode"
)

// docsDate is the date written into man pages. It is fixed so that the
// generated files only change when the commands do (make test fails when
// they are stale, and a date that moves would make them always stale).
var docsDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// GenerateOptions are the inputs of `generate`.
type GenerateOptions struct {
	Kind  string // docs, man or completions
	Dir   string
	Check bool
}

func newGenerateCmd(f *Factory) *cobra.Command {
	opts := &GenerateOptions{}
	cmd := &cobra.Command{
		Use:    "generate docs|man|completions --dir DIR [--check]",
		Short:  "Write the CLI reference, man pages or completion scripts",
		Hidden: true, // for `make docs`, `make completions` and packagers
		Long: `Write the Markdown CLI reference, the man pages or the shell completion
scripts into DIR, deterministically, removing pages of commands that no
longer exist (other files in DIR are left alone). With --check nothing is written: the
files in DIR are compared with what would be generated and the stale ones
are listed (exit 3), which is how make test catches a forgotten 'make docs'.`,
		ValidArgs: []string{"docs", "man", "completions"},
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Kind = args[0]
			if opts.Dir == "" {
				return exitcode.Usagef("--dir is required")
			}
			stale, err := Generate(cmd.Root(), opts)
			if err != nil {
				return err
			}
			if len(stale) > 0 {
				for _, s := range stale {
					fmt.Fprintln(f.IOStreams.Out, s)
				}
				return exitcode.New(exitcode.Findings, fmt.Errorf("%d generated file(s) in %s are stale: run 'make docs completions' and commit the result", len(stale), opts.Dir))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "write into (or with --check, compare against) `DIR`")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "compare instead of writing; list stale files and exit 3")
	return cmd
}

// Generate writes (or checks) one kind of generated file for root's tree and
// returns the stale files when checking.
func Generate(root *cobra.Command, opts *GenerateOptions) ([]string, error) {
	tmp, err := os.MkdirTemp("", "repairxctl-generate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	root.DisableAutoGenTag = true
	switch opts.Kind {
	case "docs":
		err = doc.GenMarkdownTree(root, tmp)
	case "man":
		err = doc.GenManTree(root, &doc.GenManHeader{Title: "REPAIRXCTL", Section: "1", Date: &docsDate, Source: "repairxctl", Manual: "repairxctl manual"}, tmp)
	case "completions":
		for shell, name := range completionFiles {
			var buf bytes.Buffer
			if err = writeCompletion(root, shell, &buf); err != nil {
				break
			}
			if err = os.WriteFile(filepath.Join(tmp, name), buf.Bytes(), 0o644); err != nil {
				break
			}
		}
	default:
		return nil, exitcode.Usagef("unknown kind %q: use docs, man or completions", opts.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s: %w", opts.Kind, err)
	}
	want, err := readTree(tmp)
	if err != nil {
		return nil, err
	}
	if opts.Check {
		have, err := readTree(opts.Dir)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		var stale []string
		for name, content := range want {
			if !bytes.Equal(have[name], content) {
				stale = append(stale, filepath.Join(opts.Dir, name))
			}
		}
		for name := range have {
			if _, ok := want[name]; !ok && generatedName(opts.Kind, name) {
				stale = append(stale, filepath.Join(opts.Dir, name)+" (no longer generated)")
			}
		}
		sort.Strings(stale)
		return stale, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	// Remove pages of commands that no longer exist, touching nothing else
	// in DIR: packagers point --dir at shared directories.
	have, err := readTree(opts.Dir)
	if err != nil {
		return nil, err
	}
	for name := range have {
		if _, ok := want[name]; !ok && generatedName(opts.Kind, name) {
			if err := os.Remove(filepath.Join(opts.Dir, name)); err != nil {
				return nil, err
			}
		}
	}
	for name, content := range want {
		if err := os.WriteFile(filepath.Join(opts.Dir, name), content, 0o644); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// generatedName reports whether a file in the target directory is one this
// generator writes (so may be stale), as opposed to someone else's file.
func generatedName(kind, name string) bool {
	switch kind {
	case "docs":
		return strings.HasPrefix(name, "repairxctl") && strings.HasSuffix(name, ".md")
	case "man":
		return strings.HasPrefix(name, "repairxctl") && strings.HasSuffix(name, ".1")
	default:
		for _, n := range completionFiles {
			if n == name {
				return true
			}
		}
	}
	return false
}

// readTree reads the regular files directly in dir (generated trees are flat).
func readTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out, err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeType != 0 || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}
