package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// platformOptions are the options the platform validates with, and the ones
// examples/ and testdata/valid/ must pass without any diagnostic.
func platformOptions() Options {
	return Options{
		RequiredLabels:      map[string][]string{"severity": {"critical", "warning", "info"}},
		RequiredAnnotations: []string{"summary", "description", "runbook_url"},
	}
}

// goldenOptions are the options a testdata file is checked with, when not
// the defaults.
func goldenOptions(t *testing.T, name string) Options {
	switch name {
	case "required-label":
		return Options{RequiredLabels: map[string][]string{"severity": {"critical", "warning", "info"}, "team": {}}}
	case "required-annotation":
		return Options{RequiredAnnotations: []string{"summary", "description", "runbook_url"}}
	case "missing-required-alert":
		p, err := LoadPolicy("testdata/policy/missing-required-alert.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return Options{Policy: p}
	}
	return Options{}
}

// renderReport is the golden form of a report: a header per file, then its
// diagnostics as Diagnostic.String prints them.
func renderReport(r *Report) string {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "# %s kind=%s wrapper=%s groups=%d rules=%d alerts=%d\n", f.Path, f.Kind, f.Wrapper, f.Groups, f.Rules, f.Alerts)
		for _, d := range f.Diagnostics {
			b.WriteString(d.String())
			b.WriteByte('\n')
		}
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "# missing %s: %s\n", m.ID, m.Reason)
	}
	return b.String()
}

// checkOfTestdata is the check a testdata file exists for: its name, or the
// longest check name it starts with ("compat-alertmanager" -> "compat").
func checkOfTestdata(name string) string {
	best := ""
	for _, c := range catalog {
		if (name == c.Name || strings.HasPrefix(name, c.Name+"-")) && len(c.Name) > len(best) {
			best = c.Name
		}
	}
	return best
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		t.Run(name, func(t *testing.T) {
			report, err := Validate(context.Background(), []string{file}, goldenOptions(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if check := checkOfTestdata(name); check != "" {
				covered[check] = true
				if !hasCheck(report, check) {
					t.Errorf("%s is the example of check %s but produces none", file, check)
				}
			}
			got := renderReport(report)
			golden := strings.TrimSuffix(file, ".yml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
	for _, c := range catalog {
		switch c.Name {
		case checkReadError, checkInternalError: // tested below: no file triggers them
			continue
		}
		if !covered[c.Name] {
			t.Errorf("check %s has no testdata/%s.yml", c.Name, c.Name)
		}
	}
}

func hasCheck(r *Report, check string) bool {
	for _, f := range r.Files {
		for _, d := range f.Diagnostics {
			if d.Check == check {
				return true
			}
		}
	}
	return false
}

func TestValidFilesHaveNoDiagnostics(t *testing.T) {
	root := repoRoot(t)
	paths := []string{"testdata/valid", filepath.Join(root, "examples")}
	for _, opts := range []Options{{}, platformOptions()} {
		opts.Policy = mustLoadPolicy(t, filepath.Join(root, "examples", "policy.yaml"))
		report, err := Validate(context.Background(), paths, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(report.Files); n < 6 {
			t.Errorf("only %d files validated: %s", n, renderReport(report))
		}
		for _, f := range report.Files {
			if len(f.Diagnostics) > 0 {
				t.Errorf("%s: want no diagnostics, got:\n%s", f.Path, renderReport(&Report{Files: []FileResult{f}}))
			}
		}
		if len(report.Missing) > 0 {
			t.Errorf("examples miss required alerts: %+v", report.Missing)
		}
	}
}

func mustLoadPolicy(t *testing.T, path string) *Policy {
	t.Helper()
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// corpusDir is the shared corpus of real-world files, next to the
// repository; tests that need it skip when it is absent.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "corpus", "alert-rules")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not found at %s: skipping (it lives next to the repository on the development machines)", dir)
	}
	return dir
}

// corpusExpectedErrors are the only errors the corpus may produce with
// default options: files the platform's tools reject too.
var corpusExpectedErrors = map[string]string{
	// An example from Alertmanager's master branch: tracing: arrived after
	// 0.25, and amtool 0.25 rejects the file.
	"prometheus__alertmanager__doc__examples__simple.yml": checkCompat,
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	report, err := Validate(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]FileResult{}
	for _, f := range report.Files {
		byName[filepath.Base(f.Path)] = f
	}
	for _, e := range entries {
		name := e.Name()
		if !slices.Contains(walkExtensions, filepath.Ext(name)) {
			if _, ok := byName[name]; ok {
				t.Errorf("%s was validated, but a walk should skip it", name)
			}
			continue
		}
		f, ok := byName[name]
		if !ok {
			t.Errorf("%s was not validated", name)
			continue
		}
		for _, d := range f.Diagnostics {
			if d.Severity == SeverityError && corpusExpectedErrors[name] != d.Check {
				t.Errorf("unexpected error: %s", d)
			}
		}
		if want := corpusExpectedErrors[name]; want != "" && !hasCheck(&Report{Files: []FileResult{f}}, want) {
			t.Errorf("%s: want a %s error", name, want)
		}
		switch {
		case strings.HasSuffix(name, "-prometheusRule.yaml"):
			if f.Kind != KindRules || f.Wrapper != WrapperPrometheusRule || f.Rules == 0 {
				t.Errorf("%s: kind %s wrapper %q rules %d, want rules from a PrometheusRule", name, f.Kind, f.Wrapper, f.Rules)
			}
			checkSameAsExtracted(t, f, byName[strings.TrimSuffix(name, ".yaml")+".spec-extracted.yaml"])
		case strings.HasSuffix(name, "-secret.yaml"):
			if f.Kind != KindAlertmanager || f.Wrapper != WrapperSecret {
				t.Errorf("%s: kind %s wrapper %q, want an Alertmanager configuration from a Secret", name, f.Kind, f.Wrapper)
			}
		}
	}
	if report.Summary.Rules < 1000 {
		t.Errorf("only %d rules found in the corpus", report.Summary.Rules)
	}
}

// checkSameAsExtracted compares a PrometheusRule with its spec extracted
// by hand: the same counts and checks, positions shifted by the manifest.
func checkSameAsExtracted(t *testing.T, wrapped, extracted FileResult) {
	t.Helper()
	if extracted.Path == "" {
		t.Errorf("%s: no extracted counterpart", wrapped.Path)
		return
	}
	if wrapped.Groups != extracted.Groups || wrapped.Rules != extracted.Rules || wrapped.Alerts != extracted.Alerts {
		t.Errorf("%s: counts %d/%d/%d differ from the extracted spec's %d/%d/%d", wrapped.Path,
			wrapped.Groups, wrapped.Rules, wrapped.Alerts, extracted.Groups, extracted.Rules, extracted.Alerts)
	}
	if len(wrapped.Diagnostics) != len(extracted.Diagnostics) {
		t.Errorf("%s: %d diagnostics, the extracted spec %d", wrapped.Path, len(wrapped.Diagnostics), len(extracted.Diagnostics))
		return
	}
	shift := 0
	for i, w := range wrapped.Diagnostics {
		e := extracted.Diagnostics[i]
		if i == 0 {
			shift = w.Line - e.Line
		}
		if w.Check != e.Check || lineRefRe.ReplaceAllString(w.Message, "") != lineRefRe.ReplaceAllString(e.Message, "") || w.Line-e.Line != shift || (e.Column > 0 && w.Column-e.Column != 2) {
			t.Errorf("%s: diagnostic %d is %s, the extracted spec's %s", wrapped.Path, i, w, e)
		}
	}
}

var lineRefRe = regexp.MustCompile(`line \d+`)

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "a.yml", Line: 3, Column: 7, Severity: SeverityError, Message: "bad", Check: "promql"}, "a.yml:3:7: error: bad [promql]"},
		{Diagnostic{File: "a.yml", Line: 3, Severity: SeverityWarning, Message: "meh", Check: "for"}, "a.yml:3: warning: meh [for]"},
		{Diagnostic{File: "a.yml", Severity: SeverityError, Message: "what", Check: "unknown-file-kind"}, "a.yml: error: what [unknown-file-kind]"},
		{Diagnostic{File: "a.yml", Column: 4, Severity: SeverityError, Message: "x", Check: "yaml"}, "a.yml: error: x [yaml]"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestReportJSONHasNoNullLists(t *testing.T) {
	report, err := Validate(context.Background(), []string{"testdata/valid"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("null")) {
		t.Errorf("JSON has a null: %s", data)
	}
	for _, key := range []string{`"format_version":1`, `"missing":[]`, `"diagnostics":[]`, `"summary":{"files":`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}
	empty, _ := json.Marshal(ValidateBytes("x.yml", []byte("groups: []"), Options{}))
	if !bytes.Contains(empty, []byte(`"diagnostics":[]`)) {
		t.Errorf("ValidateBytes JSON: %s", empty)
	}
}

func TestValidatePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n"
	am := "route:\n  receiver: r\nreceivers:\n  - name: r\n"
	write("b/z.rules", rules)
	write("b/a.yml", am)
	write("b/notes.yml", "title: not ours\n")
	write("b/.hidden/x.yml", rules)
	write("b/.dot.yml", rules)
	write("b/readme.md", rules)
	write("b/c/nested.yaml", rules)
	top := write("top.yml", rules)

	ctx := context.Background()
	paths := func(r *Report) []string {
		var out []string
		for _, f := range r.Files {
			rel, _ := filepath.Rel(dir, f.Path)
			out = append(out, rel)
		}
		return out
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"directory walk: lexical, recursive, only ours, no hidden", []string{filepath.Join(dir, "b")}, []string{"b/a.yml", "b/c/nested.yaml", "b/z.rules"}},
		{"argument order, duplicates once", []string{top, filepath.Join(dir, "b", "c"), top}, []string{"top.yml", "b/c/nested.yaml"}},
		{"glob", []string{filepath.Join(dir, "b", "*.yml")}, []string{"b/a.yml", "b/notes.yml"}},
		{"explicit files are reported even when not ours", []string{filepath.Join(dir, "b", "notes.yml")}, []string{"b/notes.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Validate(ctx, tt.paths, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(r); !slices.Equal(got, tt.want) {
				t.Errorf("files = %v, want %v", got, tt.want)
			}
		})
	}

	for _, p := range []string{filepath.Join(dir, "missing.yml"), filepath.Join(dir, "*.nothing")} {
		if _, err := Validate(ctx, []string{p}, Options{}); !errors.Is(err, ErrNoSuchPath) || !strings.Contains(err.Error(), p) {
			t.Errorf("Validate(%s) error = %v, want ErrNoSuchPath naming it", p, err)
		}
	}

	r, err := Validate(ctx, []string{StdinPath}, Options{Stdin: strings.NewReader(rules)})
	if err != nil || len(r.Files) != 1 || r.Files[0].Path != stdinName || r.Files[0].Alerts != 1 {
		t.Errorf("stdin: %v %+v", err, r)
	}
	r, err = Validate(ctx, []string{StdinPath}, Options{Stdin: iotest.ErrReader(errors.New("boom"))})
	if err != nil || !hasCheck(r, checkReadError) || r.Summary.Errors != 1 {
		t.Errorf("unreadable stdin: %v %s", err, renderReport(r))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Validate(cancelled, []string{top}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want error
	}{
		{Options{Checks: map[string]Severity{"no-such-check": SeverityOff}}, ErrUnknownCheck},
		{Options{Checks: map[string]Severity{checkFor: "fatal"}}, ErrInvalidSeverity},
		{Options{ForceKind: KindPolicy}, ErrInvalidOptions},
		{Options{ScrapeInterval: -time.Second}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		if _, err := Validate(context.Background(), []string{"testdata/valid"}, tt.opts); !errors.Is(err, tt.want) {
			t.Errorf("Validate(%+v) error = %v, want %v", tt.opts, err, tt.want)
		}
	}
}

func TestCheckSeverityOverrides(t *testing.T) {
	data, err := os.ReadFile("testdata/for.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sev  Severity
		want int // diagnostics
	}{
		{"", 1}, {SeverityError, 1}, {SeverityOff, 0},
	}
	for _, tt := range tests {
		opts := Options{}
		if tt.sev != "" {
			opts.Checks = map[string]Severity{checkFor: tt.sev}
		}
		res := ValidateBytes("for.yml", data, opts)
		if len(res.Diagnostics) != tt.want {
			t.Fatalf("severity %q: %d diagnostics, want %d", tt.sev, len(res.Diagnostics), tt.want)
		}
		if tt.want > 0 && tt.sev != "" && res.Diagnostics[0].Severity != tt.sev {
			t.Errorf("severity %q: got %s", tt.sev, res.Diagnostics[0].Severity)
		}
	}
}

func TestScrapeInterval(t *testing.T) {
	data := []byte("groups:\n  - name: g\n    rules:\n      - record: job:x:rate1m\n        expr: rate(x[1m])\n")
	for _, tt := range []struct {
		interval time.Duration
		want     int
	}{{0, 1}, {time.Minute, 1}, {30 * time.Second, 0}, {15 * time.Second, 0}} {
		res := ValidateBytes("x.yml", data, Options{ScrapeInterval: tt.interval})
		if len(res.Diagnostics) != tt.want {
			t.Errorf("scrape interval %s: %v, want %d diagnostics", tt.interval, res.Diagnostics, tt.want)
		}
	}
}

func TestForceKind(t *testing.T) {
	data, err := os.ReadFile("testdata/wrapper-prometheusrule.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Forced to a rule file, a manifest is what promtool sees: unknown fields.
	res := ValidateBytes("x.yml", data, Options{ForceKind: KindRules})
	if res.Kind != KindRules || res.Wrapper != "" || !hasCheck(&Report{Files: []FileResult{res}}, checkYAML) {
		t.Errorf("forced rules: %+v", res)
	}
	res = ValidateBytes("x.yml", []byte("groups: []\n"), Options{ForceKind: KindAlertmanager})
	if res.Kind != KindAlertmanager || res.Errors() == 0 {
		t.Errorf("forced alertmanager: %+v", res)
	}
}

func TestRecoverIntoReportsPanics(t *testing.T) {
	v, err := newValidator(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{file: "x.yml", sev: v.sev}
	func() {
		defer v.recoverInto(c)
		panic("parser exploded")
	}()
	if len(c.diags) != 1 || c.diags[0].Check != checkInternalError || c.diags[0].Severity != SeverityError || !strings.Contains(c.diags[0].Message, "parser exploded") {
		t.Errorf("diagnostics = %+v", c.diags)
	}
}

func TestChecksCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.Name] {
			t.Errorf("check %s listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Description == "" || (c.DefaultSeverity != SeverityError && c.DefaultSeverity != SeverityWarning) {
			t.Errorf("check %+v is incomplete", c)
		}
	}
	// Lint checks must stay warnings: raising one would reject files the
	// platform's tools accept.
	for _, name := range []string{checkDuplicateRule, checkFor, checkRateRange, checkAlertComparison, checkRecordName, checkAlertName, checkRequiredLabel, checkRequiredAnnotation, checkUTF8LabelName, checkMultipleDocuments} {
		if sev, _ := newSeverities(nil); sev[name] != SeverityWarning {
			t.Errorf("check %s defaults to %s, want warning", name, sev[name])
		}
	}
	c := Checks()
	c[0].Name = "changed"
	if Checks()[0].Name == "changed" {
		t.Error("Checks returns the catalog itself, not a copy")
	}
}

func TestValidateIsDeterministic(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	first, err := Validate(context.Background(), files, platformOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := renderReport(first)
	for range 5 {
		again, err := Validate(context.Background(), files, platformOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := renderReport(again); got != want {
			t.Fatalf("second run differs:\n%s\nfirst:\n%s", got, want)
		}
	}
}

// TestAliasBomb: a file with exponentially nested YAML aliases must be
// rejected quickly, not expanded by the checks that walk the tree.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://x\n        x0: &a0 [\"{{ .X }}\", \"{{ .Y }}\"]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "        x%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1)
	}
	rules := strings.Replace(b.String(), "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://x\n", "groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: up\n", 1)
	for _, doc := range []string{b.String(), rules} {
		start := time.Now()
		res := ValidateBytes("bomb.yml", []byte(doc), Options{})
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
		if res.Errors() == 0 {
			t.Errorf("no error for an alias bomb: %+v", res.Diagnostics)
		}
	}
}
