package alerts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzOptions exercise the optional checks too.
func fuzzOptions() Options {
	o := platformOptions()
	o.RequiredLabels["team"] = nil
	return o
}

// FuzzValidateBytes feeds arbitrary files to ValidateBytes: it must never
// panic (an upstream panic becomes an internal-error diagnostic, which fails
// here too so that it gets looked at), produce only well-formed
// diagnostics, and give the same result twice.
func FuzzValidateBytes(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yml", "testdata/valid/*", "testdata/parity/*/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	if dir := filepath.Join(repoRoot(f), "..", "shared", "corpus", "alert-rules"); dirExists(dir) {
		for _, name := range []string{
			"prometheus-operator__kube-prometheus__manifests__alertmanager-prometheusRule.yaml",
			"prometheus-operator__kube-prometheus__manifests__alertmanager-secret.yaml",
			"prometheus__alertmanager__config__testdata__conf.good.yml",
			"samber__awesome-prometheus-alerts__dist__rules__host-and-hardware__node-exporter.yml",
		} {
			if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(data)
			}
		}
	}
	opts := fuzzOptions()
	known := map[string]bool{}
	for _, c := range catalog {
		known[c.Name] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, force := range []Kind{"", KindRules, KindAlertmanager} {
			o := opts
			o.ForceKind = force
			first := ValidateBytes("fuzz.yml", data, o)
			for _, d := range first.Diagnostics {
				if d.Check == checkInternalError {
					t.Fatalf("internal error (kind %q): %s", force, d)
				}
				if !known[d.Check] || (d.Severity != SeverityError && d.Severity != SeverityWarning) || d.Line < 0 || d.Column < 0 {
					t.Fatalf("malformed diagnostic %+v", d)
				}
				if strings.ContainsAny(d.Message, "\n\r") {
					t.Fatalf("multi-line message %q", d.Message)
				}
				_ = d.String()
			}
			if second := ValidateBytes("fuzz.yml", data, o); !reflect.DeepEqual(first, second) {
				t.Fatalf("not deterministic (kind %q):\n%+v\n%+v", force, first, second)
			}
		}
	})
}

// FuzzTemplateCheck feeds arbitrary templates to the template checks, on
// their own and inside a rule file and an Alertmanager configuration.
func FuzzTemplateCheck(f *testing.F) {
	for _, seed := range []string{
		"{{ $labels.instance }} is down",
		"{{ $value | humanizePercentage }}",
		"{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}",
		`{{ template "slack.title" . }}`,
		"{{ .CommonLabels.SortedPairs.Names | join \", \" | safeHtml }}",
		"{{ define \"x\" }}{{ .Status | toUpper }}{{ end }}",
		"{{ if gt $value 0.5 }}high{{ else }}low{{ end }}",
		"{{ now }}",
		"{{ .Foo ",
		"{{/* comment */}}",
		"{{ break }}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e1 := parsePrometheus242Template(text)
		e2 := parseAlertmanagerTemplate("t", text)
		if (parsePrometheus242Template(text) == nil) != (e1 == nil) || (parseAlertmanagerTemplate("t", text) == nil) != (e2 == nil) {
			t.Fatal("template parsing is not deterministic")
		}
		if e2 != nil {
			if te := splitTemplateError("t", e2); te.msg == "" {
				t.Fatalf("empty message for %v", e2)
			}
		}
		q := strings.ReplaceAll(strings.ReplaceAll(text, `\`, `\\`), `"`, `\"`)
		q = strings.ReplaceAll(q, "\n", `\n`)
		rules := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n        annotations:\n          summary: \"" + q + "\"\n"
		am := "route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: http://x\n        channel: c\n        text: \"" + q + "\"\n"
		for _, doc := range []string{rules, am} {
			res := ValidateBytes("t.yml", []byte(doc), Options{})
			for _, d := range res.Diagnostics {
				if d.Check == checkInternalError {
					t.Fatalf("internal error: %s", d)
				}
			}
		}
	})
}

func dirExists(dir string) bool {
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}
