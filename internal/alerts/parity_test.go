package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/repairx/repairxctl/internal/testenv"
)

// The parity tests run the platform's own tools next to Validate. They skip
// where the tools are missing, except under CI=true, where a skipped parity
// test would hide a regression.

// platformTool finds promtool or amtool of the version the platform runs.
func platformTool(t *testing.T, name, version string) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	var path string
	switch name {
	case "promtool":
		path = testenv.Promtool(t)
	case "amtool":
		path = testenv.Amtool(t)
	default:
		t.Fatalf("unknown platform tool %q", name)
	}
	out, _ := exec.Command(path, "--version").CombinedOutput()
	if !strings.Contains(string(out), "version "+version) {
		skip("%s is not version %s but %q: skipping the parity test (`make test` installs the platform's version)", name, version, firstLine(out))
	}
	return path
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// deliberateExtras are checks that report errors on files the tools accept,
// on purpose (see the package documentation).
var deliberateExtras = []string{checkAlertmanagerTemplate, checkMissingRequiredAlert}

// parityFiles are the files the parity test runs on: all testdata, the
// examples and, when present, the shared corpus.
func parityFiles(t *testing.T) []string {
	var files []string
	for _, pattern := range []string{"testdata/*.yml", "testdata/valid/*", "testdata/parity/rules/*.yml", "testdata/parity/alertmanager/*.yml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	root := repoRoot(t)
	files = append(files, filepath.Join(root, "examples", "rules", "repairx-platform.rules.yml"), filepath.Join(root, "examples", "alertmanager.yml"))
	corpus := filepath.Join(root, "..", "shared", "corpus", "alert-rules")
	if m, _ := filepath.Glob(filepath.Join(corpus, "*.y*ml")); len(m) > 0 {
		files = append(files, m...)
		m, _ = filepath.Glob(filepath.Join(corpus, "*.rules"))
		files = append(files, m...)
	} else {
		t.Logf("corpus not found at %s: checking parity on testdata and examples only", corpus)
	}
	return files
}

// toolVerdict runs the platform tool on every unit of a file: the file
// itself when it is plain, the unwrapped content otherwise.
type toolVerdict struct {
	ran       bool
	rejected  bool
	duplicate bool // promtool's duplicate-rules lint fired
	output    string
}

func runTools(t *testing.T, promtool, amtool, file string, data []byte) toolVerdict {
	var v toolVerdict
	det := detect(file, data, "", &collector{sev: severities{}})
	dir := t.TempDir()
	run := func(tool string, args ...string) {
		out, err := exec.Command(tool, args...).CombinedOutput()
		v.ran = true
		v.output += string(out)
		if err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("running %s: %v", tool, err)
			}
			v.rejected = true
		}
		if strings.Contains(string(out), "duplicate rule(s) found") {
			v.duplicate = true
		}
	}
	for i, u := range det.units {
		path := file
		if u.wrapper != "" {
			content := u.data
			if u.wrapper == WrapperPrometheusRule {
				// promtool does not unwrap: give it the spec.
				var err error
				if content, err = yaml.Marshal(u.node); err != nil {
					t.Fatal(err)
				}
			}
			path = filepath.Join(dir, fmt.Sprintf("unit%d.yml", i))
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		switch u.kind {
		case KindRules:
			run(promtool, "check", "rules", path)
		case KindAlertmanager:
			run(amtool, "check-config", path)
			if len(u.templates) > 0 {
				// Check the Secret's template keys as amtool would once
				// they are mounted next to the configuration.
				tdir := filepath.Join(dir, fmt.Sprintf("templates%d", i))
				if err := os.MkdirAll(tdir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, tf := range u.templates {
					if err := os.WriteFile(filepath.Join(tdir, tf.name), tf.data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				cfg := filepath.Join(tdir, "check.yml")
				if err := os.WriteFile(cfg, []byte("route: {receiver: r}\nreceivers: [{name: r}]\ntemplates: ['*.tmpl']\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				run(amtool, "check-config", cfg)
			}
		}
	}
	return v
}

func TestParityWithPlatformTools(t *testing.T) {
	promtool := platformTool(t, "promtool", "2.42")
	amtool := platformTool(t, "amtool", "0.25")
	for _, file := range parityFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tool := runTools(t, promtool, amtool, file, data)
			if !tool.ran {
				return // not a rule file or an Alertmanager configuration
			}
			report, err := Validate(context.Background(), []string{file}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			res := report.Files[0]
			var errs []Diagnostic
			for _, d := range res.Diagnostics {
				if d.Severity == SeverityError {
					errs = append(errs, d)
				}
			}
			switch {
			case tool.rejected && len(errs) == 0:
				if hasCheck(report, checkUTF8LabelName) {
					return // the deliberate difference: UTF-8 names are warnings
				}
				t.Errorf("the platform tool rejects %s but Validate reports no error.\ntool:\n%s\nValidate:\n%s", file, tool.output, renderReport(report))
			case !tool.rejected:
				for _, d := range errs {
					if !slices.Contains(deliberateExtras, d.Check) {
						t.Errorf("the platform tool accepts %s but Validate reports %s\ntool:\n%s", file, d, tool.output)
					}
				}
			}
			if tool.duplicate != hasCheck(report, checkDuplicateRule) && res.Kind == KindRules && !tool.rejected {
				t.Errorf("promtool's duplicate-rules lint says %v, Validate's duplicate-rule check %v", tool.duplicate, !tool.duplicate)
			}
		})
	}
}

// promqlKnownGaps are expressions promtool 2.42 accepts and the Prometheus 3
// parser rejects, documented in the package documentation.
var promqlKnownGaps = map[string]string{
	"foo[5s s 5s]":               "2.42's lexer accepts stray characters in this range",
	"foo[5s x 5s]":               "2.42's lexer accepts stray characters in this range",
	"some_metric @ end()[5m]":    "3.x rejects an @ modifier before a range",
	"some_metric @ start() [5m]": "3.x rejects an @ modifier before a range",
}

// TestPromQLParityWithPromtool runs the expressions of the Prometheus
// parser and evaluation tests (2.42 and 3.x) through promtool 2.42 and
// Validate, as recording rules of one file.
func TestPromQLParityWithPromtool(t *testing.T) {
	promtool := platformTool(t, "promtool", "2.42")
	f, err := os.Open("testdata/parity/promql-expressions.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exprs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e string
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("groups:\n- name: g\n  rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e)
		fmt.Fprintf(&b, "  - record: r:e:%d\n    expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "exprs.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	rejected := map[int]string{}
	ruleRe := regexp.MustCompile(`"r:e:(\d+)": (.*)`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := ruleRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			rejected[n] = m[2]
		}
	}
	if len(rejected) < 100 {
		t.Fatalf("promtool rejected only %d expressions; its output:\n%.2000s", len(rejected), out)
	}
	res := ValidateBytes(path, []byte(b.String()), Options{})
	ours := map[int][]Diagnostic{}
	for _, d := range res.Diagnostics {
		n, err := strconv.Atoi(strings.TrimPrefix(d.Rule, "r:e:"))
		if err == nil {
			ours[n] = append(ours[n], d)
		}
	}
	for i, e := range exprs {
		var errs, utf8 int
		for _, d := range ours[i] {
			switch {
			case d.Severity == SeverityError:
				errs++
			case d.Check == checkUTF8LabelName:
				utf8++
			}
		}
		why, gap := promqlKnownGaps[e]
		switch {
		case gap:
			if _, ok := rejected[i]; ok || errs == 0 {
				t.Errorf("known gap %q (%s) is gone: update promqlKnownGaps and the package documentation", e, why)
			}
		case rejected[i] != "" && errs == 0 && utf8 == 0:
			t.Errorf("promtool rejects %q (%s) but Validate reports nothing", e, rejected[i])
		case rejected[i] == "" && errs > 0:
			t.Errorf("promtool accepts %q but Validate reports %v", e, ours[i])
		}
	}
}
