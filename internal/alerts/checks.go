package alerts

import (
	"fmt"
	"slices"
	"strings"
)

// CheckInfo describes one check of the catalog.
type CheckInfo struct {
	Name            string   `json:"name"`
	DefaultSeverity Severity `json:"default_severity"`
	Description     string   `json:"description"`
}

// Check names. They are part of the output schema: never rename one.
const (
	checkYAML                 = "yaml"
	checkRuleFormat           = "rule-format"
	checkPromQL               = "promql"
	checkTemplate             = "template"
	checkLabelName            = "label-name"
	checkAnnotationName       = "annotation-name"
	checkUTF8LabelName        = "utf8-label-name"
	checkAlertmanagerConfig   = "alertmanager-config"
	checkAlertmanagerTemplate = "alertmanager-template"
	checkCompat               = "compat"
	checkUnknownFileKind      = "unknown-file-kind"
	checkUnsupportedObject    = "unsupported-object"
	checkEmptyFile            = "empty-file"
	checkMultipleDocuments    = "multiple-documents"
	checkReadError            = "read-error"
	checkInternalError        = "internal-error"
	checkDuplicateRule        = "duplicate-rule"
	checkFor                  = "for"
	checkRateRange            = "rate-range"
	checkAlertComparison      = "alert-comparison"
	checkRecordName           = "record-name"
	checkAlertName            = "alert-name"
	checkRequiredLabel        = "required-label"
	checkRequiredAnnotation   = "required-annotation"
	checkMissingRequiredAlert = "missing-required-alert"
)

// catalog is the list behind Checks. Errors are what makes promtool 2.42 or
// amtool 0.25 reject a file (so that a clean run here means the platform will
// load the file), plus two deliberate extras: broken inline Alertmanager
// templates and policy misses. Every other lint is a warning by default
// because raising it would reject files the real tools accept.
var catalog = []CheckInfo{
	{checkYAML, SeverityError, "the file is not valid YAML, or has a field of the wrong type or unknown to the rule file or Alertmanager schema"},
	{checkRuleFormat, SeverityError, "rule file structure promtool rejects: empty or repeated group names, a rule with both or neither of record and alert, for/keep_firing_for/annotations on a recording rule, invalid label values"},
	{checkPromQL, SeverityError, "the expression does not parse"},
	{checkTemplate, SeverityError, "a label or annotation template does not parse with Prometheus' template functions"},
	{checkLabelName, SeverityError, "a label name that is invalid even under UTF-8 name validation, or __name__"},
	{checkAnnotationName, SeverityError, "an annotation name that is invalid even under UTF-8 name validation"},
	{checkUTF8LabelName, SeverityWarning, "a label, annotation or metric name valid only under UTF-8 name validation (Prometheus 3); much of the ecosystem, including the platform's Prometheus 2.42, still needs legacy names [a-zA-Z_][a-zA-Z0-9_]*"},
	{checkAlertmanagerConfig, SeverityError, "Alertmanager rejects the configuration (unknown receiver, bad matcher, missing route, ...)"},
	{checkAlertmanagerTemplate, SeverityError, "an Alertmanager notification template (inline in a receiver, or a templates: file) does not parse with the Alertmanager 0.25 template functions; amtool does not check inline templates, so this is a deliberate extra"},
	{checkCompat, SeverityError, "a construct the platform's Prometheus 2.42 or Alertmanager 0.25 does not support: newer PromQL functions and syntax, group labels and query_offset, newer template functions, newer receivers and fields"},
	{checkUnknownFileKind, SeverityError, "a file named explicitly that is neither a rule file nor an Alertmanager configuration, nor a Kubernetes object wrapping one"},
	{checkUnsupportedObject, SeverityWarning, "a Kubernetes AlertmanagerConfig object, which is not validated"},
	{checkEmptyFile, SeverityWarning, "a file named explicitly that holds no YAML document"},
	{checkMultipleDocuments, SeverityWarning, "a rule file or Alertmanager configuration with several YAML documents: promtool, Prometheus and Alertmanager read only the first"},
	{checkReadError, SeverityError, "the file could not be read"},
	{checkInternalError, SeverityError, "the validator failed on this input (a bug: please report it with the file)"},
	{checkDuplicateRule, SeverityWarning, "two rules of a file with the same name and labels (promtool's duplicate-rules lint)"},
	{checkFor, SeverityWarning, "an alerting rule without for: it fires on a single evaluation blip"},
	{checkRateRange, SeverityWarning, "rate(), irate(), increase(), delta(), idelta(), deriv() or predict_linear() over a range shorter than two scrape intervals, which returns nothing when a scrape is late"},
	{checkAlertComparison, SeverityWarning, "an alert expression that does not filter (no comparison without bool, and/unless, absent() or absent_over_time() at the top): it fires for every series it returns; vector(1), a deliberate dead man's switch, is fine"},
	{checkRecordName, SeverityWarning, "a recording rule name not of the form level:metric:operations"},
	{checkAlertName, SeverityWarning, "an alert name that is not a plain identifier [A-Za-z][A-Za-z0-9_]*"},
	{checkRequiredLabel, SeverityWarning, "an alerting rule without a required label, or with a value outside the allowed set"},
	{checkRequiredAnnotation, SeverityWarning, "an alerting rule without a required annotation"},
	{checkMissingRequiredAlert, SeverityError, "the policy requires an alert that no rule file provides"},
}

// Checks returns the check catalog in a stable order, for documentation and
// --help.
func Checks() []CheckInfo { return slices.Clone(catalog) }

// severities resolves the effective severity of every check.
type severities map[string]Severity

func newSeverities(overrides map[string]Severity) (severities, error) {
	s := make(severities, len(catalog))
	for _, c := range catalog {
		s[c.Name] = c.DefaultSeverity
	}
	for _, name := range sortedKeys(overrides) {
		sev := overrides[name]
		if _, ok := s[name]; !ok {
			return nil, fmt.Errorf("%w %q (known checks: %s)", ErrUnknownCheck, name, strings.Join(checkNames(), ", "))
		}
		switch sev {
		case SeverityError, SeverityWarning, SeverityOff:
			s[name] = sev
		default:
			return nil, fmt.Errorf("%w %q for check %q (use error, warning or off)", ErrInvalidSeverity, sev, name)
		}
	}
	return s, nil
}

func checkNames() []string {
	names := make([]string, len(catalog))
	for i, c := range catalog {
		names[i] = c.Name
	}
	return names
}
