package commands

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/alerts"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// AlertsValidateOptions are the inputs of `alerts validate`.
type AlertsValidateOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)

	Paths  []string
	Strict bool
	Format string   // text or github (human output only)
	Kind   string   // force the file kind: rules or alertmanager
	Checks []string // NAME=SEVERITY overrides from flags
}

func newAlertsValidateCmd(f *Factory, runF func(*AlertsValidateOptions) error) *cobra.Command {
	opts := &AlertsValidateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Validate Prometheus rule files and Alertmanager configs",
		Long: `Validate Prometheus alerting and recording rule files and Alertmanager
configuration files with the upstream parsers, then lint them.

Each PATH is a file, a directory (walked recursively for *.yml, *.yaml,
*.rules and *.json files, skipping hidden ones and files that are neither
rules nor Alertmanager configs) or a glob; "-" reads stdin. What a file is
gets detected: a rule file, an Alertmanager config, a Kubernetes
PrometheusRule object or a Secret holding alertmanager.yaml (both
unwrapped). Finding no file to validate is a usage error, so a mistyped
path cannot pass CI.

Diagnostics are printed as
  file:line:col: severity: message [check]
or, with --format github, as GitHub workflow annotations, or with -o json as
a report whose schema is documented in docs/alerts-validate-json.md.

Checks and their default severities:
` + checkCatalog() + `
Severities are set per check in the config (alerts.checks) or with --check.
Required labels and annotations come from alerts.required_labels and
alerts.required_annotations; --policy names a file of alerts that must exist.

Exit status: 0 when no errors were found (warnings allowed unless --strict);
3 when any error (or, with --strict, any warning) was found, including a
file that could not be read (a read-error diagnostic: the other files are
still validated); 2 for usage or configuration errors, a path that does not
exist or paths holding nothing to validate.`,
		Example: `  # Everything under a directory; fail CI on warnings too
  repairxctl alerts validate --strict deploy/prometheus/

  # Check that the platform's required alerts exist
  repairxctl alerts validate --policy examples/policy.yaml examples/rules/

  # Annotations on the pull request in GitHub Actions
  repairxctl alerts validate --format github 'rules/*.yml'

  # A machine-readable report
  repairxctl alerts validate -o json rules/ | jq '.summary'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.Format != "text" && opts.Format != "github" {
				return exitcode.Usagef("--format %q is not supported: use text or github", opts.Format)
			}
			if opts.Kind != "" && opts.Kind != string(alerts.KindRules) && opts.Kind != string(alerts.KindAlertmanager) {
				return exitcode.Usagef("--kind %q is not supported: use rules or alertmanager", opts.Kind)
			}
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			if runF != nil {
				return runF(opts)
			}
			return alertsValidateRun(cmd, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Strict, "strict", false, "fail (exit 3) on warnings too")
	fl.StringVar(&opts.Format, "format", "text", "human output `STYLE`: text (file:line:col: ...) or github (workflow annotations)")
	fl.StringVar(&opts.Kind, "kind", "", "treat every file as `KIND` (rules or alertmanager) instead of detecting it")
	fl.StringArrayVar(&opts.Checks, "check", nil, "set a check's severity, as in --check for=off (`NAME=SEVERITY`, repeatable)")
	fl.String("policy", "", "require the alerts listed in policy `FILE`")
	bindKey(fl, "policy", "alerts.policy")
	fl.String("scrape-interval", "1m", "the scrape `INTERVAL` rules run under (for rate-range)")
	bindKey(fl, "scrape-interval", "alerts.scrape_interval")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "github"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"rules", "alertmanager"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("check", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, c := range alerts.Checks() {
			names = append(names, c.Name+"=")
		}
		return names, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// checkCatalog lists the checks for the help text, wrapped to 80 columns.
func checkCatalog() string {
	var b strings.Builder
	for _, c := range alerts.Checks() {
		fmt.Fprintf(&b, "  %s (%s)\n", c.Name, c.DefaultSeverity)
		for _, line := range wrap(c.Description, 72) {
			fmt.Fprintf(&b, "      %s\n", line)
		}
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// alertsOptions turns the configuration and --check flags into the domain
// package's options, validating check names against its catalog.
func alertsOptions(cfg *config.Config, flagChecks []string) (alerts.Options, error) {
	known := map[string]bool{}
	for _, c := range alerts.Checks() {
		known[c.Name] = true
	}
	opts := alerts.Options{
		ScrapeInterval:      cfg.Alerts.ScrapeInterval,
		RequiredLabels:      cfg.Alerts.RequiredLabels,
		RequiredAnnotations: cfg.Alerts.RequiredAnnotations,
		Checks:              map[string]alerts.Severity{},
	}
	for _, name := range sortedKeys(cfg.Alerts.Checks) {
		if !known[name] {
			return opts, exitcode.New(exitcode.Usage, cfg.Invalid("alerts.checks."+name, "no check is named %q (see 'repairxctl alerts validate --help')", name))
		}
		opts.Checks[name] = alerts.Severity(cfg.Alerts.Checks[name])
	}
	for _, c := range flagChecks {
		name, sev, ok := strings.Cut(c, "=")
		if !ok || !known[name] {
			return opts, exitcode.Usagef("--check %q: want NAME=off|warning|error with NAME one of the checks in --help", c)
		}
		switch alerts.Severity(sev) {
		case alerts.SeverityOff, alerts.SeverityWarning, alerts.SeverityError:
			opts.Checks[name] = alerts.Severity(sev)
		default:
			return opts, exitcode.Usagef("--check %q: severity must be off, warning or error", c)
		}
	}
	if cfg.Alerts.Policy != "" {
		p, err := alerts.LoadPolicy(cfg.Alerts.Policy)
		if err != nil {
			return opts, exitcode.New(exitcode.Usage, cfg.Invalid("alerts.policy", "%v", err))
		}
		opts.Policy = p
	}
	return opts, nil
}

func alertsValidateRun(cmd *cobra.Command, opts *AlertsValidateOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	if opts.Format == "github" && p.Format != ui.Table {
		return exitcode.Usagef("--format github is a human output style: drop -o %s or --format", p.Format)
	}
	vopts, err := alertsOptions(cfg, opts.Checks)
	if err != nil {
		return err
	}
	vopts.ForceKind = alerts.Kind(opts.Kind)

	start := time.Now()
	report, err := validatePaths(cmd, opts, vopts)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)

	err = p.Print(report, func(w io.Writer) error {
		if opts.Format == "github" {
			return writeGitHubAnnotations(w, report)
		}
		return writeDiagnostics(opts.IO, w, report)
	})
	if err != nil {
		return err
	}
	if p.Format == ui.Table && !cfg.Quiet {
		writeAlertsSummary(opts.IO, report, elapsed)
	}
	s := report.Summary
	if s.Errors > 0 || (opts.Strict && s.Warnings > 0) {
		return exitcode.Findingsf("%d errors, %d warnings", s.Errors, s.Warnings)
	}
	return nil
}

// validatePaths runs the validation, mapping a missing path to a usage error.
func validatePaths(cmd *cobra.Command, opts *AlertsValidateOptions, vopts alerts.Options) (*alerts.Report, error) {
	vopts.Stdin = opts.IO.In
	report, err := alerts.Validate(cmd.Context(), opts.Paths, vopts)
	if errors.Is(err, alerts.ErrNoSuchPath) {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	if err != nil {
		return nil, err
	}
	if report.Summary.Files == 0 {
		return nil, exitcode.Usagef("no rule files or Alertmanager configs found in %s", strings.Join(opts.Paths, " "))
	}
	return report, nil
}

func writeDiagnostics(ios *ui.IOStreams, w io.Writer, report *alerts.Report) error {
	cs := ios.Scheme()
	for _, f := range report.Files {
		for _, d := range f.Diagnostics {
			line := ui.Sanitize(d.String())
			if ios.ColorEnabled() {
				sev := string(d.Severity) + ":"
				style := cs.Yellow
				if d.Severity == alerts.SeverityError {
					style = cs.Red
				}
				line = strings.Replace(line, " "+sev+" ", " "+style.Render(sev)+" ", 1)
			}
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeAlertsSummary(ios *ui.IOStreams, report *alerts.Report, elapsed time.Duration) {
	s := report.Summary
	cs := ios.ErrScheme()
	files := plural(s.Files, "file")
	detail := fmt.Sprintf("%s, %s", plural(s.Rules, "rule"), plural(s.Alerts, "alert"))
	switch {
	case s.Errors == 0 && s.Warnings == 0:
		ios.Successf("%s valid (%s) in %s", files, detail, elapsed.Round(time.Millisecond))
	default:
		mark := cs.Yellow.Render("!")
		if s.Errors > 0 {
			mark = cs.Red.Render("✗")
		}
		fmt.Fprintf(ios.ErrOut, "%s %s, %s in %s (%s)\n", mark, plural(s.Errors, "error"), plural(s.Warnings, "warning"), files, detail)
	}
	for _, m := range report.Missing {
		fmt.Fprintf(ios.ErrOut, "  missing required alert %s (%s): %s\n", m.ID, ui.Sanitize(m.Description), ui.Sanitize(m.Reason))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writeGitHubAnnotations writes workflow commands that GitHub Actions turns
// into annotations on the pull request's diff.
func writeGitHubAnnotations(w io.Writer, report *alerts.Report) error {
	for _, f := range report.Files {
		for _, d := range f.Diagnostics {
			level := "warning"
			if d.Severity == alerts.SeverityError {
				level = "error"
			}
			props := "file=" + ghProperty(d.File)
			if d.Line > 0 {
				props += fmt.Sprintf(",line=%d", d.Line)
			}
			if d.Column > 0 {
				props += fmt.Sprintf(",col=%d", d.Column)
			}
			props += ",title=" + ghProperty(d.Check)
			if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, props, ghData(d.Message)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ghData and ghProperty escape as the Actions runner's command parser
// expects (actions/toolkit, core/src/command.ts).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
