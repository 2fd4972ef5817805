package alerts

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

var (
	// alertNameRe: Alertmanager routes, inhibitions, silences and
	// dashboards all match alerts by name, and a name with spaces, dots or
	// dashes needs quoting or escaping in every one of them.
	alertNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// recordNameRe is the level:metric:operations convention of
	// https://prometheus.io/docs/practices/rules/: at least two colons, an
	// identifier for the metric, and operations made of [a-zA-Z0-9_]
	// (rate5m, sum_rate5m). The level may be empty (":metric:sum", as the
	// node-exporter mixin writes cluster-wide aggregations); more than one
	// operations segment is tolerated.
	recordNameRe = regexp.MustCompile(`^(?:[a-zA-Z_][a-zA-Z0-9_]*)?:[a-zA-Z_][a-zA-Z0-9_]*(?::[a-zA-Z0-9_]+)+$`)
)

// lintRule runs the lint checks that need no PromQL.
func (v *validator) lintRule(r *ruleCheck, ar alertRule) {
	if !r.isAlert() {
		if rec := r.rule.Record; rec != "" && !recordNameRe.MatchString(rec) {
			_, n := r.field("record")
			r.at(checkRecordName, n, fmt.Sprintf("recording rule name %q is not of the form level:metric:operations (e.g. job:http_requests:rate5m), which tells readers what was aggregated and how", rec))
		}
		return
	}
	if !alertNameRe.MatchString(r.rule.Alert) {
		_, n := r.field("alert")
		r.at(checkAlertName, n, fmt.Sprintf("alert name %q is not a plain identifier [A-Za-z][A-Za-z0-9_]*: routes, inhibitions, silences and dashboards match alerts by name", r.rule.Alert))
	}
	if !ar.hasFor {
		r.at(checkFor, nil, "alerting rule has no for: it fires on a single evaluation blip; wait a few evaluation intervals (e.g. for: 5m)")
	}
	for _, name := range sortedKeys(v.opts.RequiredLabels) {
		allowed := v.opts.RequiredLabels[name]
		value, ok := ar.labels[name]
		k, val := r.entry("labels", name)
		switch {
		case !ok || value == "":
			_, labels := r.field("labels")
			r.at(checkRequiredLabel, labels, fmt.Sprintf("alerting rule has no %q label%s", name, allowedSuffix(allowed)))
		case len(allowed) > 0 && !strings.Contains(value, "{{") && !slices.Contains(allowed, value):
			if val == nil {
				val = k
			}
			r.at(checkRequiredLabel, val, fmt.Sprintf("label %s=%q is not one of the allowed values: %s", name, value, strings.Join(allowed, ", ")))
		}
	}
	for _, name := range v.opts.RequiredAnnotations {
		if strings.TrimSpace(r.rule.Annotations[name]) == "" {
			_, annotations := r.field("annotations")
			r.at(checkRequiredAnnotation, annotations, fmt.Sprintf("alerting rule has no %q annotation", name))
		}
	}
}

func allowedSuffix(allowed []string) string {
	if len(allowed) == 0 {
		return ""
	}
	return " (allowed values: " + strings.Join(allowed, ", ") + ")"
}

// duplicateIndex finds rules with the same name and labels in one file: the
// semantics of promtool's duplicate-rules lint, which ignores whether a rule
// records or alerts and what its expression is. Two alerts of the same name
// that differ in a label (severity: warning and critical) are fine.
type duplicateIndex map[string]int

func (d duplicateIndex) check(r *ruleCheck) {
	if r.name == "" {
		return
	}
	var key strings.Builder
	key.WriteString(r.name)
	for _, k := range sortedKeys(r.rule.Labels) {
		fmt.Fprintf(&key, "\x00%s\x00%s", k, r.rule.Labels[k])
	}
	line, _ := r.u.pos.apply(nodePos(r.node))
	if first, ok := d[key.String()]; ok {
		where := "earlier in this file"
		if first > 0 {
			where = fmt.Sprintf("at line %d", first)
		}
		r.at(checkDuplicateRule, nil, fmt.Sprintf("rule %q with the same labels is already defined %s", r.name, where))
		return
	}
	d[key.String()] = line
}

// filters reports whether an alert expression selects only the series that
// should alert: a comparison without bool, absent() or absent_over_time(),
// a set operation (and, unless: a condition on other series), or something
// built from those that keeps their filtering (or with both sides
// filtering, arithmetic, aggregations, functions of a filtered argument). vector(<number>) counts as filtering: an alert that
// always fires on purpose is a dead man's switch (Watchdog).
func filters(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.ParenExpr:
		return filters(n.Expr)
	case *parser.UnaryExpr:
		return filters(n.Expr)
	case *parser.StepInvariantExpr:
		return filters(n.Expr)
	case *parser.SubqueryExpr:
		return filters(n.Expr)
	case *parser.AggregateExpr:
		return filters(n.Expr)
	case *parser.BinaryExpr:
		switch {
		case n.Op == parser.LAND || n.Op == parser.LUNLESS:
			// Set operations keep series by the presence of others:
			// a condition, as in "x unless on(job) y".
			return true
		case n.Op == parser.LOR:
			return filters(n.LHS) && filters(n.RHS)
		case n.Op.IsComparisonOperator():
			return !n.ReturnBool || filters(n.LHS) || filters(n.RHS)
		}
		return filters(n.LHS) || filters(n.RHS)
	case *parser.Call:
		switch n.Func.Name {
		case "absent", "absent_over_time":
			return true
		case "vector":
			_, constant := unparen(n.Args[0]).(*parser.NumberLiteral)
			return constant
		}
		return slices.ContainsFunc(n.Args, filters)
	}
	return false
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

func alertComparisonMessage(e parser.Expr) string {
	if b, ok := unparen(e).(*parser.BinaryExpr); ok && b.Op.IsComparisonOperator() && b.ReturnBool {
		return "the alert expression compares with the bool modifier, which returns 0 or 1 for every series instead of filtering: the alert fires for all of them"
	}
	return "the alert expression has no comparison, and/unless, absent() or absent_over_time() at the top: it fires for every series it returns"
}
