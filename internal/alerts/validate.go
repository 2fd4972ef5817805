package alerts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors returned by Validate, to be tested with errors.Is. Problems in the
// files themselves are diagnostics, never errors.
var (
	// ErrNoSuchPath is returned for a path that does not exist or a glob
	// that matches nothing; the message names it.
	ErrNoSuchPath = errors.New("no such file or directory")
	// ErrUnknownCheck is returned when Options.Checks names a check that
	// does not exist.
	ErrUnknownCheck = errors.New("unknown check")
	// ErrInvalidSeverity is returned when Options.Checks sets a severity
	// other than error, warning or off.
	ErrInvalidSeverity = errors.New("invalid severity")
	// ErrInvalidOptions is returned for another option out of range.
	ErrInvalidOptions = errors.New("invalid options")
)

// StdinPath is the path that stands for Options.Stdin in Validate.
const StdinPath = "-"

// stdinName is the file name diagnostics about standard input carry.
const stdinName = "<stdin>"

// DefaultScrapeInterval is the scrape interval the rate-range check assumes
// when Options.ScrapeInterval is zero.
const DefaultScrapeInterval = time.Minute

// walkExtensions are the file names a directory walk looks at. JSON is YAML,
// and promtool reads rule files written in it.
var walkExtensions = []string{".yml", ".yaml", ".rules", ".json"}

// Options tune Validate. The zero value checks with default severities.
type Options struct {
	// ScrapeInterval is the scrape interval the rate-range check assumes;
	// DefaultScrapeInterval when zero.
	ScrapeInterval time.Duration
	// RequiredLabels maps a label every alerting rule must carry to its
	// allowed values; an empty slice allows any non-empty value.
	RequiredLabels map[string][]string
	// RequiredAnnotations lists annotations every alerting rule must
	// carry with a non-empty value, e.g. summary, description, runbook_url.
	RequiredAnnotations []string
	// Checks overrides the severity of checks by name (see Checks);
	// SeverityOff disables one.
	Checks map[string]Severity
	// Policy, when set, lists alerts that must exist across all files.
	Policy *Policy
	// ForceKind skips detection and validates every file as KindRules or
	// KindAlertmanager, without unwrapping Kubernetes objects.
	ForceKind Kind
	// Stdin is read for the path "-".
	Stdin io.Reader
}

// validator is one validation run: resolved options and the parser cache.
type validator struct {
	opts   Options
	sev    severities
	scrape time.Duration
	parser *exprParser
	// readTemplates lets Alertmanager configurations read the template
	// files their templates: globs name, as amtool does. Off for
	// ValidateBytes, which must not touch the file system.
	readTemplates bool
}

func newValidator(opts Options) (*validator, error) {
	sev, err := newSeverities(opts.Checks)
	if err != nil {
		return nil, err
	}
	switch opts.ForceKind {
	case "", KindRules, KindAlertmanager:
	default:
		return nil, fmt.Errorf("%w: cannot force kind %q (use %s or %s)", ErrInvalidOptions, opts.ForceKind, KindRules, KindAlertmanager)
	}
	if opts.ScrapeInterval < 0 {
		return nil, fmt.Errorf("%w: negative scrape interval %s", ErrInvalidOptions, opts.ScrapeInterval)
	}
	return &validator{
		opts:   opts,
		sev:    sev,
		scrape: cmp.Or(opts.ScrapeInterval, DefaultScrapeInterval),
		parser: newExprParser(),
	}, nil
}

// target is a file to validate. Explicit files are always reported; files
// found by walking a directory only when they hold something we validate.
type target struct {
	path     string
	explicit bool
}

// Validate validates the files named by paths: files, directories (walked
// recursively for *.yml, *.yaml, *.rules and *.json, skipping hidden files
// and directories), globs (filepath.Glob syntax), and "-" for opts.Stdin.
// Files are reported in argument order, a directory's files in lexical
// order, each file once. A path that does not exist or a glob that matches
// nothing is an error wrapping ErrNoSuchPath; so are invalid options.
// Problems in the files are diagnostics, never errors.
func Validate(ctx context.Context, paths []string, opts Options) (*Report, error) {
	v, err := newValidator(opts)
	if err != nil {
		return nil, err
	}
	v.readTemplates = true
	targets, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	report := &Report{FormatVersion: FormatVersion, Files: []FileResult{}, Missing: []PolicyMiss{}}
	outcomes, err := v.validateTargets(ctx, targets)
	if err != nil {
		return nil, err
	}
	var alerts []alertRule
	for _, o := range outcomes {
		if o.skip {
			continue
		}
		report.Files = append(report.Files, o.res)
		alerts = append(alerts, o.alerts...)
	}
	if opts.Policy != nil {
		misses, res := opts.Policy.evaluate(alerts, v.sev)
		report.Missing = misses
		report.Files = append(report.Files, res)
	}
	report.summarize()
	return report, nil
}

// outcome is the validation of one target.
type outcome struct {
	res    FileResult
	alerts []alertRule
	skip   bool // found by a walk and not ours
}

// validateTargets validates files in parallel, one worker per CPU, each
// with its own parser cache; results keep the order of targets.
func (v *validator) validateTargets(ctx context.Context, targets []target) ([]outcome, error) {
	outcomes := make([]outcome, len(targets))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(targets)) {
		w := *v
		w.parser = newExprParser()
		wg.Go(func() {
			for i := range jobs {
				outcomes[i] = w.validateTarget(targets[i])
			}
		})
	}
	for i := range targets {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return outcomes, nil
}

func (v *validator) validateTarget(t target) outcome {
	data, name, err := v.read(t.path)
	if err != nil {
		return outcome{res: readFailure(name, err, v.sev)}
	}
	res, found := v.validateFile(name, data, t.explicit)
	return outcome{res: res, alerts: found.alerts, skip: !t.explicit && !found.ours}
}

// ValidateBytes validates one file's content; name is used in diagnostics
// and for detection (a .rules extension). It never touches the file system,
// so an Alertmanager configuration's templates: files are not read, and
// Options.Policy is ignored: a policy is about a set of files (use Validate).
// Invalid options are ignored in favour of the defaults.
func ValidateBytes(name string, data []byte, opts Options) FileResult {
	v, err := newValidator(opts)
	if err != nil {
		v, _ = newValidator(Options{})
	}
	res, _ := v.validateFile(name, data, true)
	return res
}

func (v *validator) read(path string) ([]byte, string, error) {
	if path == StdinPath {
		if v.opts.Stdin == nil {
			return nil, stdinName, errors.New("no standard input to read")
		}
		data, err := io.ReadAll(v.opts.Stdin)
		return data, stdinName, err
	}
	data, err := os.ReadFile(path)
	return data, path, err
}

func readFailure(name string, err error, sev severities) FileResult {
	c := &collector{file: name, sev: sev}
	c.add(Diagnostic{Check: checkReadError, Message: fmt.Sprintf("cannot read the file: %v", err)})
	return FileResult{Path: name, Kind: KindUnknown, Diagnostics: nonNil(c.diags)}
}

// fileFindings is what validating a file yields beyond its FileResult.
type fileFindings struct {
	ours   bool
	alerts []alertRule
}

// validateFile detects what data holds and validates every unit of it.
func (v *validator) validateFile(name string, data []byte, explicit bool) (FileResult, fileFindings) {
	c := &collector{file: name, sev: v.sev}
	res := FileResult{Path: name, Kind: KindUnknown}
	var found fileFindings
	func() {
		defer v.recoverInto(c)
		det := detect(name, data, v.opts.ForceKind, c)
		res.Kind, res.Wrapper, found.ours = det.kind, det.wrapper, det.ours
		switch {
		case det.empty:
			if explicit {
				c.add(Diagnostic{Check: checkEmptyFile, Message: "the file holds no YAML document"})
			}
		case !det.ours && explicit:
			c.add(Diagnostic{Check: checkUnknownFileKind, Message: unknownMessage})
			if det.yamlErr != nil {
				for _, lm := range yamlErrorLines(det.yamlErr) {
					c.add(Diagnostic{Line: lm.line, Check: checkYAML, Message: lm.msg})
				}
			}
		}
		for _, u := range det.units {
			v.validateUnit(c, u, &res, &found, name)
		}
	}()
	res.Diagnostics = nonNil(sortDiagnostics(c.diags))
	return res, found
}

const unknownMessage = "not a Prometheus rule file (top-level groups:), an Alertmanager configuration (route:, receivers:, ...), " +
	"nor a Kubernetes PrometheusRule or Secret holding alertmanager.yaml"

func (v *validator) validateUnit(c *collector, u unit, res *FileResult, found *fileFindings, name string) {
	defer v.recoverInto(c)
	uc := unitCollector{collector: c, pos: u.pos}
	switch u.kind {
	case KindRules:
		st := v.validateRules(uc, u)
		res.Groups += st.groups
		res.Rules += st.rules
		res.Alerts += st.alerts
		for i := range st.alertRules {
			st.alertRules[i].file = name
		}
		found.alerts = append(found.alerts, st.alertRules...)
	case KindAlertmanager:
		dir := ""
		if v.readTemplates && u.wrapper == "" && name != stdinName {
			dir = filepath.Dir(name)
		}
		v.validateAlertmanager(uc, u, dir)
	}
}

// recoverInto turns a panic in an upstream parser into a diagnostic: one
// bad file must not take down the validation of the others.
func (v *validator) recoverInto(c *collector) {
	if r := recover(); r != nil {
		c.add(Diagnostic{Check: checkInternalError, Message: fmt.Sprintf("internal error while validating this file: %v", r)})
	}
}

// expandPaths turns arguments into targets, in order, without duplicates.
func expandPaths(paths []string) ([]target, error) {
	var out []target
	seen := map[string]bool{}
	addFile := func(p string, explicit bool) {
		key := filepath.Clean(p)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, target{path: p, explicit: explicit})
	}
	for _, p := range paths {
		if p == StdinPath {
			addFile(p, true)
			continue
		}
		matches := []string{p}
		if _, err := os.Lstat(p); err != nil {
			if !strings.ContainsAny(p, "*?[") {
				return nil, fmt.Errorf("%w: %s", ErrNoSuchPath, p)
			}
			m, gerr := filepath.Glob(p)
			if gerr != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrNoSuchPath, p, gerr)
			}
			m = slices.DeleteFunc(m, func(f string) bool { return hiddenMatch(p, f) })
			if len(m) == 0 {
				return nil, fmt.Errorf("%w: the pattern %s matches nothing", ErrNoSuchPath, p)
			}
			matches = m
		}
		for _, m := range matches {
			info, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrNoSuchPath, m, err)
			}
			if !info.IsDir() {
				addFile(m, true)
				continue
			}
			files, err := walkDir(m)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				addFile(f, false)
			}
		}
	}
	return out, nil
}

// hiddenMatch reports whether a glob matched a hidden file the pattern did
// not ask for: shells leave those out of "*", and so does Validate.
func hiddenMatch(pattern, match string) bool {
	return strings.HasPrefix(filepath.Base(match), ".") && !strings.HasPrefix(filepath.Base(pattern), ".")
}

// walkDir lists the candidate files under root in lexical order, skipping
// hidden files and directories (.git, editor backups).
func walkDir(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && slices.Contains(walkExtensions, strings.ToLower(filepath.Ext(p))) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", root, err)
	}
	return files, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}
