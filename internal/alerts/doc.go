// Package alerts validates Prometheus rule files and Alertmanager
// configuration files: it detects what a file is, unwraps Kubernetes
// PrometheusRule objects and Alertmanager configuration Secrets, parses them
// with the upstream parsers and runs lint checks on top, reporting
// compiler-style diagnostics (file:line:col: severity: message [check]).
//
// The package never prints: Validate returns a Report that the command layer
// renders. Checks lists the checks, their default severities and what they
// find.
//
// # Parity with the platform's tools
//
// The platform runs Prometheus 2.42 and Alertmanager 0.25; this package uses
// the Prometheus 3 and Alertmanager 0.34 libraries. The default severities
// are chosen so that a file without errors is one `promtool check rules`
// (2.42) or `amtool check-config` (0.25) accepts, and a file they reject has
// at least one error. What the newer libraries accept and the platform does
// not is reported by the compat check (an error): PromQL functions added
// after 2.42 (histogram_avg, first_over_time, ...), duration arithmetic and
// numbers in ranges and offsets, duration literals as numbers, digit
// separators, the trim operators </ and >/, the anchored and smoothed
// modifiers, quoted names with legacy spelling, group labels and
// query_offset, the template functions now, toDuration and urlQueryEscape,
// and the Alertmanager receivers, fields and template functions added after
// 0.25. Set compat to warning or off when validating for newer versions.
// holt_winters, which Prometheus 3 renamed, is accepted.
//
// Deliberate differences:
//   - Names valid only under UTF-8 validation (label, annotation, metric and
//     recording rule names with dots, dashes, non-ASCII letters, also when
//     quoted in PromQL) are warnings (utf8-label-name); promtool 2.42 rejects
//     them. Set utf8-label-name to error to match it.
//   - Inline Alertmanager notification templates (a receiver's title, text,
//     html, headers, ...) are parsed with the 0.25 template functions
//     (alertmanager-template, an error); amtool never parses them, so the
//     first sign of a typo would be a failed notification during an incident.
//   - missing-required-alert (an error) comes from the policy, which the
//     tools know nothing about.
//
// Known gaps, found by running the expressions of the Prometheus parser tests
// through promtool 2.42 and this package: 2.42 accepts "x @ end()[5m]"
// (the 3.x parser rejects an @ modifier before a range) and the odd range
// "x[5s s 5s]"; here both are promql errors. Alertmanager compat is checked
// on field names, not on values (a new enum value would pass).
//
// # Files
//
// A file is detected by its top-level keys: groups (a rule file);
// route, receivers, global, inhibit_rules, templates, time_intervals or
// mute_time_intervals (an Alertmanager configuration); rule_files or tests
// (a promtool unit-test file, recognised as KindRuleTests and not validated);
// apiVersion and kind (Kubernetes objects). In a stream of Kubernetes objects
// every PrometheusRule (monitoring.coreos.com) is validated from its spec,
// every Secret holding alertmanager.yaml (stringData, or base64 in data) as
// an Alertmanager configuration together with its *.tmpl keys, and the items
// of a List are looked into. AlertmanagerConfig objects are reported as not
// validated (unsupported-object); other objects are ignored. Positions in
// unwrapped content point into the manifest: exactly for a spec or a literal
// block (|), at the value for base64 or quoted content.
//
// A plain rule file or Alertmanager configuration with several YAML
// documents gets a multiple-documents warning: promtool, Prometheus and
// Alertmanager silently ignore every document after the first, so only the
// first is validated. A file whose first document is not valid YAML is
// classified by its top-level keys as text, or by a .rules extension.
//
// A file named explicitly is always reported: one that is nothing of the
// above gets unknown-file-kind (an error), an empty one empty-file (a
// warning). A directory is walked recursively for *.yml, *.yaml, *.rules and
// *.json files, skipping hidden files and directories, and a file found that
// way is reported only when it holds something this package validates, so
// that a directory of mixed configuration can be checked as a whole.
//
// # Policy
//
// A policy (Options.Policy, LoadPolicy) lists alerts that must exist across
// all validated files. Each miss is a PolicyMiss in Report.Missing and a
// missing-required-alert error on the policy file. The file format:
//
//	required_alerts:
//	  - id: service-down                      # required, unique
//	    description: Service down within 1 minute
//	    match: {alert: "ServiceDown|InstanceDown"}  # required: regular expression on the alert name, anchored
//	    expr_contains: [up]                   # names the expression must use, or substrings of it
//	    max_for: 1m                           # the rule's for: must not be longer
//	    labels: {severity: critical}          # anchored regular expressions on the rule's labels
//	    threshold: "> 0.05"                   # a comparison that fires at least when this one does
//
// An alerting rule satisfies an entry when every condition that is set holds
// for it. An expr_contains item spelled like a metric name must be a metric
// the expression selects or a function or aggregation it calls (so "up" does
// not match "backup_age"); anything else must be a substring of the
// expression as PromQL prints it, which normalises spacing. threshold "> v"
// is met by a comparison "> w" or ">= w" (or its mirror "w < x") with a
// literal w <= v; "< v" by "< w" or "<= w" with w >= v; write v in the unit
// the rule uses. A rule without for: fires at once, which satisfies any
// max_for. Unknown fields are errors, so that a typo does not weaken a
// policy.
//
// # Report schema
//
// Report is rendered as JSON or YAML with snake_case fields and
// format_version 1; lists are never null. Files are in argument order, a
// walked directory's files in lexical order, the policy file last;
// diagnostics by line, column, check and message. Summary.Files does not
// count the policy file.
package alerts
