package alerts

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Severity says how serious a diagnostic is. Checks have a default severity
// that Options.Checks can override.
type Severity string

const (
	// SeverityError marks a file that will not load, or a policy violation.
	SeverityError Severity = "error"
	// SeverityWarning marks a file that loads but is probably wrong.
	SeverityWarning Severity = "warning"
	// SeverityOff disables a check in Options.Checks; diagnostics never carry it.
	SeverityOff Severity = "off"
)

// Kind is what a validated file holds.
type Kind string

const (
	// KindRules is a Prometheus rule file (top-level "groups"), possibly
	// wrapped in a Kubernetes PrometheusRule.
	KindRules Kind = "rules"
	// KindAlertmanager is an Alertmanager configuration, possibly wrapped in
	// a Kubernetes Secret.
	KindAlertmanager Kind = "alertmanager"
	// KindRuleTests is a promtool unit-test file (top-level "rule_files" or
	// "tests"). It is recognised so that it is not reported as unknown, but
	// not validated: run `promtool test rules` for that.
	KindRuleTests Kind = "rule-tests"
	// KindPolicy is the required-alerts policy file; it appears in a Report
	// only to carry missing-required-alert diagnostics.
	KindPolicy Kind = "policy"
	// KindUnknown is anything else.
	KindUnknown Kind = "unknown"
)

// Values of FileResult.Wrapper: the Kubernetes object a rule file or an
// Alertmanager configuration was unwrapped from.
const (
	// WrapperPrometheusRule is a monitoring.coreos.com PrometheusRule,
	// whose spec is a rule file.
	WrapperPrometheusRule = "PrometheusRule"
	// WrapperSecret is a Secret holding alertmanager.yaml.
	WrapperSecret = "Secret"
)

// Diagnostic is one finding, positioned in the file the user wrote (for a
// Kubernetes wrapper: in the manifest, not in the unwrapped content).
type Diagnostic struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`   // 1-based; 0 when unknown
	Column   int      `json:"column"` // 1-based; 0 when unknown
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Check    string   `json:"check"` // stable kebab-case name from Checks()
	Group    string   `json:"group,omitempty"`
	Rule     string   `json:"rule,omitempty"`
}

// String formats d like a compiler message, "file:line:col: severity:
// message [check]", leaving out the line and column when they are unknown.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(d.Line))
		if d.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(d.Column))
		}
	}
	b.WriteString(": ")
	b.WriteString(string(d.Severity))
	b.WriteString(": ")
	b.WriteString(d.Message)
	b.WriteString(" [")
	b.WriteString(d.Check)
	b.WriteByte(']')
	return b.String()
}

// FileResult is the outcome for one file.
type FileResult struct {
	Path    string `json:"path"`
	Kind    Kind   `json:"kind"`
	Wrapper string `json:"wrapper,omitempty"` // WrapperPrometheusRule, WrapperSecret or ""
	// Groups, Rules and Alerts count rule groups, rules of both types and,
	// among those, alerting rules.
	Groups      int          `json:"groups"`
	Rules       int          `json:"rules"`
	Alerts      int          `json:"alerts"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Errors counts the error diagnostics of f.
func (f FileResult) Errors() int { return f.count(SeverityError) }

// Warnings counts the warning diagnostics of f.
func (f FileResult) Warnings() int { return f.count(SeverityWarning) }

func (f FileResult) count(s Severity) int {
	n := 0
	for _, d := range f.Diagnostics {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Report is the outcome of Validate. Its JSON form is a documented,
// versioned schema (FormatVersion).
type Report struct {
	FormatVersion int          `json:"format_version"`
	Files         []FileResult `json:"files"`
	Missing       []PolicyMiss `json:"missing"`
	Summary       Summary      `json:"summary"`
}

// FormatVersion is the version of the Report schema; it changes only when a
// field changes meaning or disappears.
const FormatVersion = 1

// Summary holds the totals over a Report.
type Summary struct {
	Files    int `json:"files"`
	Rules    int `json:"rules"`
	Alerts   int `json:"alerts"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// HasErrors reports whether any file carries an error diagnostic, which is
// what makes `alerts validate` exit with code 3.
func (r *Report) HasErrors() bool { return r.Summary.Errors > 0 }

// summarize fills r.Summary from r.Files. The policy pseudo-file is not
// counted as a file.
func (r *Report) summarize() {
	var s Summary
	for _, f := range r.Files {
		if f.Kind != KindPolicy {
			s.Files++
		}
		s.Rules += f.Rules
		s.Alerts += f.Alerts
		s.Errors += f.Errors()
		s.Warnings += f.Warnings()
	}
	r.Summary = s
}

// sortDiagnostics orders diagnostics by position, then by check and message,
// and drops exact duplicates (upstream sometimes reports one problem twice).
func sortDiagnostics(ds []Diagnostic) []Diagnostic {
	slices.SortFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Message, b.Message),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Rule, b.Rule),
		)
	})
	return slices.Compact(ds)
}
