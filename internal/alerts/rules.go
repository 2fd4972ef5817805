package alerts

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// ruleStats is what validating one rule file yields.
type ruleStats struct {
	groups, rules, alerts int
	alertRules            []alertRule
}

// alertRule is an alerting rule as the policy sees it.
type alertRule struct {
	file    string
	line    int
	name    string
	expr    parser.Expr // nil when the expression does not parse
	metrics []string
	calls   []string
	hasFor  bool
	forDur  time.Duration
	labels  map[string]string
}

// ruleCheck is one rule being checked.
type ruleCheck struct {
	u     unitCollector
	src   source
	group string
	name  string
	node  *yaml.Node // the rule's mapping; nil if it cannot be found
	rule  rulefmt.Rule
	rn    rulefmt.RuleNode
	// groupLabels are the group's labels, which Prometheus 3 adds to
	// every rule of the group.
	groupLabels map[string]string
}

func (r *ruleCheck) isAlert() bool { return r.rule.Alert != "" }

// at reports at node n, or at the rule when n is unknown.
func (r *ruleCheck) at(check string, n *yaml.Node, msg string) {
	if n == nil || n.Line == 0 {
		n = r.node
	}
	line, col := nodePos(n)
	r.u.reportRule(check, line, col, r.group, r.name, msg)
}

func (r *ruleCheck) atPos(check string, line, col int, msg string) {
	if line == 0 {
		line, col = nodePos(r.node)
	}
	r.u.reportRule(check, line, col, r.group, r.name, msg)
}

// field returns the key and value nodes of a field of the rule.
func (r *ruleCheck) field(name string) (*yaml.Node, *yaml.Node) { return mapGet(r.node, name) }

// entry returns the key and value nodes of a label or annotation.
func (r *ruleCheck) entry(field, name string) (*yaml.Node, *yaml.Node) {
	_, m := r.field(field)
	return mapGet(m, name)
}

// validateRules validates a rule file the way promtool 2.42 loads one, with
// the rulefmt and PromQL parser of Prometheus 3, then runs the lint checks.
//
// The file is parsed once: the tree is decoded into rulefmt.RuleGroups and
// into rulefmt.RuleGroupNode (for the positions rulefmt reports), and
// unknown fields, which rulefmt.Parse finds with a strict decoder, are found
// on the tree against the fields of the rulefmt types. Rules are checked with
// rulefmt's Rule.Validate one by one rather than with rulefmt.Parse, whose
// group-level errors carry no usable position.
func (v *validator) validateRules(u unitCollector, un unit) ruleStats {
	var st ruleStats
	root := un.node
	if root == nil {
		var doc yaml.Node
		if err := yaml.Unmarshal(un.data, &doc); err != nil {
			reportYAMLError(u, nil, err)
			return st
		}
		root = &doc
	}
	var groups rulefmt.RuleGroups
	var nodes struct {
		Groups []rulefmt.RuleGroupNode `yaml:"groups"`
	}
	problems := unknownRuleFields(root)
	if err := root.Decode(&groups); err != nil {
		problems = append(problems, yamlErrorLines(err)...)
	} else if err := root.Decode(&nodes); err != nil {
		problems = append(problems, yamlErrorLines(err)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			line, col := p.line, 0
			if line == 0 {
				line, col = nodePos(locateQuoted(root, p.msg))
			}
			u.report(checkYAML, line, col, p.msg)
		}
		return st
	}

	src := un.src
	_, groupsNode := mapGet(root, "groups")
	groupNodes := seqItems(groupsNode)
	seenGroups := map[string]bool{}
	dups := duplicateIndex{}
	for i, g := range groups.Groups {
		st.groups++
		gn := itemAt(groupNodes, i)
		v.checkGroup(u, gn, g, seenGroups)
		_, rulesNode := mapGet(gn, "rules")
		ruleNodes := seqItems(rulesNode)
		for j, rule := range g.Rules {
			st.rules++
			r := &ruleCheck{
				u: u, src: src, group: g.Name, node: itemAt(ruleNodes, j), rule: rule,
				name: cmp.Or(rule.Alert, rule.Record), groupLabels: g.Labels,
			}
			if i < len(nodes.Groups) && j < len(nodes.Groups[i].Rules) {
				r.rn = nodes.Groups[i].Rules[j]
			}
			ar := v.checkRule(r)
			dups.check(r)
			if r.isAlert() {
				st.alerts++
				ar.line, _ = u.pos.apply(nodePos(r.node))
				st.alertRules = append(st.alertRules, ar)
			}
		}
	}
	return st
}

// Fields of the rule file schema, from the yaml tags of the rulefmt types,
// so that they follow the library. Prometheus 2.42 lacks group labels and
// query_offset, which the compat check reports.
var (
	ruleFileFields  = yamlFields(reflect.TypeFor[rulefmt.RuleGroups]())
	ruleGroupFields = yamlFields(reflect.TypeFor[rulefmt.RuleGroup]())
	ruleFields      = yamlFields(reflect.TypeFor[rulefmt.Rule]())
)

func yamlFields(t reflect.Type) map[string]bool {
	fields := map[string]bool{}
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}

// unknownRuleFields finds what a strict decoder would reject as unknown
// fields, with the messages rulefmt.Parse gives.
func unknownRuleFields(root *yaml.Node) []lineMessage {
	var out []lineMessage
	check := func(m *yaml.Node, fields map[string]bool, typ string) {
		m = deref(m)
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value != "<<" && !fields[k.Value] {
				out = append(out, lineMessage{line: k.Line, msg: fmt.Sprintf("field %s not found in type %s", k.Value, typ)})
			}
		}
	}
	check(root, ruleFileFields, "rulefmt.RuleGroups")
	_, groups := mapGet(root, "groups")
	for _, g := range seqItems(groups) {
		check(g, ruleGroupFields, "rulefmt.RuleGroup")
		_, rules := mapGet(g, "rules")
		for _, r := range seqItems(rules) {
			check(r, ruleFields, "rulefmt.Rule")
		}
	}
	return out
}

// reportYAMLError reports a decoding error, one diagnostic per problem.
func reportYAMLError(u unitCollector, root *yaml.Node, err error) {
	for _, lm := range yamlErrorLines(err) {
		line, col := lm.line, 0
		if line == 0 {
			line, col = nodePos(locateQuoted(root, lm.msg))
		}
		u.report(checkYAML, line, col, lm.msg)
	}
}

// checkGroup runs the group-level checks of rulefmt (which reports them
// without a position) and those of Prometheus 2.42.
func (v *validator) checkGroup(u unitCollector, gn *yaml.Node, g rulefmt.RuleGroup, seen map[string]bool) {
	_, nameNode := mapGet(gn, "name")
	if nameNode == nil {
		nameNode = gn
	}
	if g.Name == "" {
		u.reportNode(checkRuleFormat, nameNode, "group name must not be empty")
	} else if seen[g.Name] {
		u.reportNode(checkRuleFormat, nameNode, fmt.Sprintf("group name %q is repeated in the same file", g.Name))
	}
	seen[g.Name] = true
	if k, _ := mapGet(gn, "query_offset"); k != nil {
		u.reportNode(checkCompat, k, "query_offset is not supported by Prometheus 2.42 (it rejects the whole file)")
	}
	k, labelsNode := mapGet(gn, "labels")
	if k == nil {
		return
	}
	u.reportNode(checkCompat, k, "group labels are not supported by Prometheus 2.42 (it rejects the whole file): set the labels on each rule")
	for _, name := range sortedKeys(g.Labels) {
		kn, vn := mapGet(labelsNode, name)
		switch {
		case name == model.MetricNameLabel || !model.UTF8Validation.IsValidLabelName(name):
			u.reportNode(checkLabelName, kn, invalidNameMessage("label", name))
		case !model.LegacyValidation.IsValidLabelName(name):
			u.reportNode(checkUTF8LabelName, kn, utf8NameMessage("label", name))
		}
		if !model.LabelValue(g.Labels[name]).IsValid() {
			u.reportNode(checkRuleFormat, vn, fmt.Sprintf("invalid label value: %s", g.Labels[name]))
		}
	}
}

// checkRule runs rulefmt's validation and the checks of this package on one
// rule and returns what the policy needs to know about it.
func (v *validator) checkRule(r *ruleCheck) alertRule {
	upstream := r.rule
	if r.isAlert() {
		// rulefmt parses every label and annotation of an alert as a
		// template, building a template expander each time, which would
		// dominate the run time; checkAlertLabels does the same checks.
		upstream.Labels, upstream.Annotations = nil, nil
	}
	rn := r.rn
	for _, we := range upstream.Validate(rn, model.UTF8Validation, v.parser) {
		v.reportUpstream(r, &we)
	}
	if r.isAlert() {
		r.checkAlertLabels()
	}
	r.checkNames()

	ar := alertRule{name: r.rule.Alert, labels: mergeLabels(r.groupLabels, r.rule.Labels), forDur: time.Duration(r.rule.For)}
	forKey, _ := r.field("for")
	ar.hasFor = forKey != nil || (r.node == nil && r.rule.For != 0)
	if r.rule.Expr != "" {
		if expr, err := v.parser.ParseExpr(r.rule.Expr); err == nil {
			a := analyzeExpr(expr, r.rule.Expr, v.scrape)
			for _, f := range a.findings {
				line, col := offsetLineCol(r.rule.Expr, int(f.pos))
				line, col = r.src.scalarPos(&rn.Expr, line, col)
				r.atPos(f.check, line, col, f.msg)
			}
			ar.expr, ar.metrics, ar.calls = expr, a.metrics, a.calls
			if r.isAlert() && !filters(expr) {
				r.at(checkAlertComparison, &rn.Expr, alertComparisonMessage(expr))
			}
		}
	}
	v.lintRule(r, ar)
	return ar
}

// checkAlertLabels checks the labels and annotations of an alerting rule as
// rulefmt does (names, values, templates), with positions, and reports
// templates that need Prometheus 3's template functions as compat errors.
func (r *ruleCheck) checkAlertLabels() {
	for _, key := range sortedKeys(r.rule.Labels) {
		k, val := r.entry("labels", key)
		value := r.rule.Labels[key]
		if key == model.MetricNameLabel || !model.UTF8Validation.IsValidLabelName(key) {
			r.at(checkLabelName, k, invalidNameMessage("label", key))
		}
		if !model.LabelValue(value).IsValid() {
			r.at(checkRuleFormat, val, "invalid label value: "+value)
		}
		r.checkTemplate("label", key, value, val)
	}
	for _, key := range sortedKeys(r.rule.Annotations) {
		k, val := r.entry("annotations", key)
		if !model.UTF8Validation.IsValidLabelName(key) {
			r.at(checkAnnotationName, k, invalidNameMessage("annotation", key))
		}
		r.checkTemplate("annotation", key, r.rule.Annotations[key], val)
	}
}

// checkTemplate parses a label or annotation template with the functions
// of Prometheus 2.42 and, only when that fails, with rulefmt's own
// expander, to tell a broken template from one that needs Prometheus 3.
func (r *ruleCheck) checkTemplate(what, key, text string, n *yaml.Node) {
	if parsePrometheus242Template(text) == nil {
		return
	}
	err := parsePrometheusTemplate(r.rule.Alert, text)
	if err == nil {
		err242 := parsePrometheus242Template(text)
		r.at(checkCompat, n, fmt.Sprintf("%s %q: %s in Prometheus 2.42 templates", what, key, templateErrorDetail(err242)))
		return
	}
	te := splitTemplateError("__alert_"+r.rule.Alert, err)
	line, col := nodePos(n)
	if te.line > 0 && n != nil {
		line, col = r.src.scalarPos(n, te.line-1, 0)
	}
	r.atPos(checkTemplate, line, col, fmt.Sprintf("%s %q: %s", what, key, te.msg))
}

// upstreamPosRe is the position rulefmt puts before some messages.
var upstreamPosRe = regexp.MustCompile(`^(\d+):(\d+): `)

// Prefixes of rulefmt's messages, which say what an error is about.
const (
	parseExprPrefix  = "could not parse expression: "
	labelNamePrefix  = "invalid label name: "
	labelValuePrefix = "invalid label value: "
	annotationPrefix = "invalid annotation name: "
)

// reportUpstream turns one rulefmt validation error into a diagnostic with
// the best position available: rulefmt gives one for some errors and none
// for label, annotation and template errors, which are located here.
func (v *validator) reportUpstream(r *ruleCheck, we *rulefmt.WrappedError) {
	inner := we.Unwrap()
	if inner == nil {
		return
	}
	msg := inner.Error()
	line, col := 0, 0
	if m := upstreamPosRe.FindStringSubmatch(strings.TrimSuffix(we.Error(), msg)); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
	}
	var perrs parser.ParseErrors
	switch {
	case errors.As(inner, &perrs):
		for _, pe := range perrs {
			l, c := offsetLineCol(r.rule.Expr, int(pe.PositionRange.Start))
			el, ec := r.src.scalarPos(&r.rn.Expr, l, c)
			r.atPos(checkPromQL, el, ec, "could not parse expression: "+pe.Err.Error())
		}
	case strings.HasPrefix(msg, parseExprPrefix):
		r.atPos(checkPromQL, line, col, msg)
	case strings.HasPrefix(msg, labelNamePrefix):
		name := strings.TrimPrefix(msg, labelNamePrefix)
		k, _ := r.entry("labels", name)
		r.at(checkLabelName, k, invalidNameMessage("label", name))
	case strings.HasPrefix(msg, labelValuePrefix):
		_, val := r.entry("labels", keyWithValue(r.rule.Labels, strings.TrimPrefix(msg, labelValuePrefix)))
		r.at(checkRuleFormat, val, msg)
	case strings.HasPrefix(msg, annotationPrefix):
		name := strings.TrimPrefix(msg, annotationPrefix)
		k, _ := r.entry("annotations", name)
		r.at(checkAnnotationName, k, invalidNameMessage("annotation", name))
	default:
		r.atPos(checkRuleFormat, line, col, msg)
	}
}

func invalidNameMessage(what, name string) string {
	if name == model.MetricNameLabel {
		return fmt.Sprintf("invalid %s name %q: it is reserved for the metric name", what, name)
	}
	return fmt.Sprintf("invalid %s name %q", what, name)
}

func keyWithValue(m map[string]string, value string) string {
	for _, k := range sortedKeys(m) {
		if m[k] == value {
			return k
		}
	}
	return ""
}

// checkNames warns about names rulefmt accepts under UTF-8 validation but
// Prometheus 2.42 rejects: the one deliberate difference from promtool 2.42.
func (r *ruleCheck) checkNames() {
	for _, field := range []string{"labels", "annotations"} {
		names := r.rule.Labels
		what := "label"
		if field == "annotations" {
			names, what = r.rule.Annotations, "annotation"
		}
		for _, name := range sortedKeys(names) {
			if name != model.MetricNameLabel && !model.LegacyValidation.IsValidLabelName(name) && model.UTF8Validation.IsValidLabelName(name) {
				k, _ := r.entry(field, name)
				r.at(checkUTF8LabelName, k, utf8NameMessage(what, name))
			}
		}
	}
	rec := r.rule.Record
	if rec != "" && !model.LegacyValidation.IsValidMetricName(rec) && model.UTF8Validation.IsValidMetricName(rec) && !strings.ContainsAny(rec, "{}") {
		_, n := r.field("record")
		r.at(checkUTF8LabelName, n, utf8NameMessage("recording rule", rec))
	}
}

func mergeLabels(group, rule map[string]string) map[string]string {
	out := make(map[string]string, len(group)+len(rule))
	for k, v := range group {
		out[k] = v
	}
	for k, v := range rule {
		out[k] = v
	}
	return out
}

func seqItems(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
	}
	return items
}

func itemAt(items []*yaml.Node, i int) *yaml.Node {
	if i < len(items) {
		return items[i]
	}
	return nil
}
