package alerts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(`
required_alerts:
  - id: down
    description: Service down
    match: {alert: "ServiceDown|InstanceDown"}
    expr_contains: [up]
    max_for: 1m
    labels: {severity: "critical|page"}
    threshold: ">= 0.5"
`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.RequiredAlerts[0]
	if r.ID != "down" || r.Alert != "ServiceDown|InstanceDown" || r.MaxFor != time.Minute || r.Line != 3 ||
		r.Threshold == nil || *r.Threshold != (Threshold{Op: ">", Value: 0.5}) || r.Labels["severity"] != "critical|page" {
		t.Errorf("parsed %+v", r)
	}

	bad := []struct{ name, policy, want string }{
		{"unknown field", "required_alerts:\n  - id: a\n    match: {alert: A}\n    severity: critical\n", "line 4: field severity not found"},
		{"no id", "required_alerts:\n  - match: {alert: A}\n", "id is required"},
		{"repeated id", "required_alerts:\n  - {id: a, match: {alert: A}}\n  - {id: a, match: {alert: B}}\n", `id "a" is used twice`},
		{"no match", "required_alerts:\n  - id: a\n", "match.alert is required"},
		{"bad regexp", "required_alerts:\n  - {id: a, match: {alert: \"(\"}}\n", "match.alert"},
		{"bad label regexp", "required_alerts:\n  - {id: a, match: {alert: A}, labels: {severity: \"[\"}}\n", "labels.severity"},
		{"bad threshold", "required_alerts:\n  - {id: a, match: {alert: A}, threshold: \"about 5\"}\n", "threshold"},
		{"bad max_for", "required_alerts:\n  - {id: a, match: {alert: A}, max_for: soon}\n", "duration"},
	}
	for _, tt := range bad {
		_, err := ParsePolicy([]byte(tt.policy))
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrInvalidPolicy mentioning %q", tt.name, err, tt.want)
		}
	}

	if _, err := LoadPolicy(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("LoadPolicy of a missing file: no error")
	}
}

func TestPolicyConditions(t *testing.T) {
	rules := `groups:
  - name: g
    rules:
      - alert: ServiceDown
        expr: up{job="api"} == 0
        for: 30s
        labels: {severity: critical}
      - alert: ApiErrorRate
        expr: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) >= 0.03
        for: 5m
        labels: {severity: warning}
      - alert: JobCompletionLow
        expr: 0.95 > job:completion:ratio1d
      - alert: FailedLogins
        expr: sum(rate(repairx_auth_login_failures_total[5m])) * 60 > bool 10
`
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, entry string
		satisfied   bool
		reason      string
	}{
		{"name and expression", `{id: x, match: {alert: ServiceDown}, expr_contains: [up]}`, true, ""},
		{"names match whole metrics", `{id: x, match: {alert: ServiceDown}, expr_contains: [u]}`, false, "does not use u"},
		{"function names count", `{id: x, match: {alert: ApiErrorRate}, expr_contains: [rate, sum, http_requests_total]}`, true, ""},
		{"substrings of the printed expression", `{id: x, match: {alert: ApiErrorRate}, expr_contains: ["code=~\"5..\""]}`, true, ""},
		{"anchored alert regexp", `{id: x, match: {alert: Service}}`, false, `no alerting rule is named like "Service"`},
		{"max_for", `{id: x, match: {alert: ApiErrorRate}, max_for: 1m}`, false, "waits for 5m, longer than max_for 1m"},
		{"no for satisfies max_for", `{id: x, match: {alert: JobCompletionLow}, max_for: 1m}`, true, ""},
		{"labels", `{id: x, match: {alert: ApiErrorRate}, labels: {severity: critical}}`, false, `has label severity="warning", not matching "critical"`},
		{"lower threshold fires earlier", `{id: x, match: {alert: ApiErrorRate}, threshold: "> 0.05"}`, true, ""},
		{"higher threshold fires later", `{id: x, match: {alert: ApiErrorRate}, threshold: "> 0.01"}`, false, "has no comparison firing at > 0.01"},
		{"mirrored comparison", `{id: x, match: {alert: JobCompletionLow}, threshold: "< 0.95"}`, true, ""},
		{"bool comparisons do not count", `{id: x, match: {alert: FailedLogins}, threshold: "> 10"}`, false, "has no comparison"},
		{"best candidate", `{id: x, match: {alert: "ServiceDown|ApiErrorRate"}, labels: {severity: warning}, max_for: 1m}`, false, "the closest rule, ServiceDown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte("required_alerts:\n  - " + tt.entry + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			report, err := Validate(context.Background(), []string{file}, Options{Policy: p})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(report.Missing) == 0; got != tt.satisfied {
				t.Fatalf("satisfied = %v, want %v (%+v)", got, tt.satisfied, report.Missing)
			}
			if tt.satisfied {
				return
			}
			if !strings.Contains(report.Missing[0].Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", report.Missing[0].Reason, tt.reason)
			}
			policyFile := report.Files[len(report.Files)-1]
			if policyFile.Kind != KindPolicy || policyFile.Path != "<policy>" || policyFile.Errors() != 1 || policyFile.Diagnostics[0].Line != 2 {
				t.Errorf("policy file result %+v", policyFile)
			}
			if report.Summary.Files != 1 || report.Summary.Errors != 1 {
				t.Errorf("summary %+v", report.Summary)
			}
		})
	}
}
