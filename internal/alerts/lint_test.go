package alerts

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestFilters(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`up == 0`, true},
		{`(up == 0)`, true},
		{`up == bool 0`, false},
		{`up`, false},
		{`rate(x[5m])`, false},
		{`absent(up{job="a"})`, true},
		{`absent_over_time(up[5m])`, true},
		{`vector(1)`, true},
		{`vector(time())`, false},
		{`sum by (job) (up == 0)`, true},
		{`count(up == 0) > 2`, true},
		{`(x > 5) * 100`, true},
		{`x / y`, false},
		{`x unless on (job) y`, true},
		{`x and y`, true},
		{`x > 1 or y > 1`, true},
		{`x > 1 or y`, false},
		{`label_replace(x > 1, "a", "$1", "b", "(.*)")`, true},
		{`max_over_time((x > 1)[5m:])`, true},
		{`-x < -1`, true},
		{`1`, false},
	}
	p := newExprParser()
	for _, tt := range tests {
		e, err := p.ParseExpr(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if got := filters(e); got != tt.want {
			t.Errorf("filters(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestNameConventions(t *testing.T) {
	records := map[string]bool{
		"job:http_requests:rate5m":                   true,
		"instance_path:requests:rate5m":              true,
		":node_memory_MemAvailable_bytes:sum":        true,
		"cluster_quantile:apiserver_request:p99:sum": true,
		"job:http_requests":                          false,
		"http_requests_rate5m":                       false,
		"job::rate5m":                                false,
		"job:http.requests:rate5m":                   false,
	}
	for name, want := range records {
		if got := recordNameRe.MatchString(name); got != want {
			t.Errorf("record name %q: %v, want %v", name, got, want)
		}
	}
	alerts := map[string]bool{"ServiceDown": true, "API_5xx": true, "api-down": false, "Api Down": false, "_Hidden": false, "Up(>80%)": false}
	for name, want := range alerts {
		if got := alertNameRe.MatchString(name); got != want {
			t.Errorf("alert name %q: %v, want %v", name, got, want)
		}
	}
}

func TestAnalyzeExpr(t *testing.T) {
	tests := []struct {
		expr   string
		checks []string
	}{
		{`rate(x[1m])`, []string{checkRateRange}},
		{`rate(x[2m])`, nil},
		{`increase(x[90s:1m])`, []string{checkRateRange}},
		{`rate(x[5m:10s])`, nil},
		{`deriv(x[1m])`, []string{checkRateRange}},
		{`avg_over_time(x[1m])`, nil},
		{`x offset 5m`, nil},
		{`x offset -5m`, nil},
		{`offset{step="1s"}`, nil},
		{`x @ 100`, nil},
		{`x[5m] @ end()`, nil},
		{`holt_winters(x[5m], 0.5, 0.5)`, nil},
		{`0x1F + 1e3 + Inf`, nil},
		{`x offset 300`, []string{checkCompat}},
		{`x > 5m`, []string{checkCompat}},
		{`x > 1_000`, []string{checkCompat}},
		{`rate(x[5m+1m])`, []string{checkCompat}},
		{`x[300]`, []string{checkCompat}},
		{`histogram_avg(x)`, []string{checkCompat}},
		{`x </ 5`, []string{checkCompat}},
		{`x[5m] anchored`, []string{checkCompat}},
		{`{"up"}`, []string{checkCompat}},
		{`sum by ("job") (x)`, []string{checkCompat}},
		{`{"service.up"}`, []string{checkUTF8LabelName}},
		{`sum by ("service.name") (x)`, []string{checkUTF8LabelName}},
		{`x * on ("a.b") group_left ("c.d") y`, []string{checkUTF8LabelName, checkUTF8LabelName}},
		{`x{"a-b"="c"}`, []string{checkUTF8LabelName}},
		{`{__name__="a-b"}`, nil},
		{`{"a:b"}`, []string{checkCompat}},
		{`sum by ("a:b") (x)`, []string{checkUTF8LabelName}},
	}
	p := newExprParser()
	for _, tt := range tests {
		e, err := p.ParseExpr(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		var got []string
		for _, f := range analyzeExpr(e, tt.expr, time.Minute).findings {
			got = append(got, f.check)
		}
		if !slices.Equal(got, tt.checks) {
			t.Errorf("%s: checks %v, want %v", tt.expr, got, tt.checks)
		}
	}
	a := analyzeExpr(mustParse(t, `sum(rate(http_requests_total{job="a"}[5m])) / sum({__name__="up"})`), "", time.Minute)
	if !slices.Equal(a.metrics, []string{"http_requests_total", "up"}) || !slices.Equal(a.calls, []string{"rate", "sum"}) {
		t.Errorf("metrics %v calls %v", a.metrics, a.calls)
	}
}

// newerAlertmanagerFuncs lists the DefaultFuncs names 0.25 lacks.
func newerAlertmanagerFuncs() []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(amtemplate.DefaultFuncs)) {
		if !slices.Contains(alertmanager025TemplateFuncs, n) {
			out = append(out, n)
		}
	}
	return out
}

func mustParse(t *testing.T, expr string) parser.Expr {
	t.Helper()
	e, err := newExprParser().ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestTemplateFunctionSets(t *testing.T) {
	// Every Prometheus 2.42 function exists in the library's expander, and
	// the three it lacks do too: the compat check depends on both.
	for _, name := range append(slices.Clone(prometheus242TemplateFuncs), "now", "toDuration", "urlQueryEscape") {
		if err := parsePrometheusTemplate("A", "{{ "+name+" }}"); err != nil && strings.Contains(err.Error(), "not defined") {
			t.Errorf("Prometheus template function %s: %v", name, err)
		}
	}
	for _, name := range []string{"now", "toDuration", "urlQueryEscape"} {
		if parsePrometheus242Template("{{ "+name+" }}") == nil {
			t.Errorf("%s parses with the Prometheus 2.42 functions", name)
		}
	}
	for _, name := range alertmanager025TemplateFuncs {
		if _, ok := amtemplate.DefaultFuncs[name]; !ok {
			t.Errorf("Alertmanager 0.25 template function %s is not in the library's DefaultFuncs", name)
		}
		if err := parseAlertmanagerTemplate("t", "{{ "+name+" }}"); err != nil {
			t.Errorf("Alertmanager template function %s does not parse: %v", name, err)
		}
	}
	if newer := newerAlertmanagerFuncs(); !slices.Contains(newer, "toJson") || slices.Contains(newer, "toUpper") {
		t.Errorf("functions newer than Alertmanager 0.25: %v", newer)
	}
	if err := parseAlertmanagerTemplate("t", `{{ template "x" . }}{{ .CommonLabels.SortedPairs.Names | join ", " | safeHtml }}`); err != nil {
		t.Errorf("valid Alertmanager template: %v", err)
	}
}

// TestNoPresentationDependencies keeps the domain package free of the CLI
// and terminal libraries (see STYLE.md).
func TestNoPresentationDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/spf13/cobra", "github.com/spf13/viper", "github.com/charmbracelet/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("internal/alerts depends on %s", dep)
			}
		}
	}
}
