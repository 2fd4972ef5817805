package alerts

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// ErrInvalidPolicy is returned for a policy that does not parse or is
// inconsistent; the message names the entry and line.
var ErrInvalidPolicy = errors.New("invalid policy")

// Policy lists alerts that must exist across the validated rule files. Its
// file format is documented in the package documentation.
type Policy struct {
	// Path is the file the policy was read from; missing-required-alert
	// diagnostics carry it.
	Path           string          `json:"path"`
	RequiredAlerts []RequiredAlert `json:"required_alerts"`
}

// RequiredAlert is one entry of a policy. An alerting rule satisfies it
// when every condition that is set holds for that one rule.
type RequiredAlert struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Alert is a regular expression, anchored at both ends, on the alert
	// name (match.alert in the file).
	Alert string `json:"alert"`
	// ExprContains are things the expression must use: a name (a legacy
	// metric or function name such as up or histogram_quantile) must be a
	// metric the expression selects or a function or aggregation it calls;
	// anything else must be a substring of the expression as PromQL prints
	// it, which normalises spacing.
	ExprContains []string `json:"expr_contains"`
	// MaxFor bounds the rule's for: the alert must fire within it. Zero
	// means no bound.
	MaxFor time.Duration `json:"max_for"`
	// Labels are anchored regular expressions the rule's labels must match.
	Labels map[string]string `json:"labels"`
	// Threshold, when set, requires a filtering comparison with a number
	// that makes the alert fire at least when the policy's does.
	Threshold *Threshold `json:"threshold,omitempty"`
	// Line is where the entry starts in the policy file.
	Line int `json:"line"`

	alertRe  *regexp.Regexp
	labelRes map[string]*regexp.Regexp
}

// Threshold is a comparison a required alert must make: "> 0.05" is met by
// "x > 0.05", "x >= 0.03" or "0.05 < x", since each fires when x exceeds
// 0.05; "< 0.95" by "x < 0.95" or "x <= 0.99". The number must be written in
// the same unit as in the rule (a ratio is not a percentage).
type Threshold struct {
	Op    string  `json:"op"` // ">" or "<"
	Value float64 `json:"value"`
}

// String formats t as written in a policy file.
func (t Threshold) String() string {
	return t.Op + " " + strconv.FormatFloat(t.Value, 'g', -1, 64)
}

// PolicyMiss is a required alert no rule satisfies.
type PolicyMiss struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Reason says why: no alert of that name, or what the closest
	// candidate lacks.
	Reason string `json:"reason"`
}

// policyFile is the YAML schema of a policy.
type policyFile struct {
	RequiredAlerts []struct {
		ID          string `yaml:"id"`
		Description string `yaml:"description"`
		Match       struct {
			Alert string `yaml:"alert"`
		} `yaml:"match"`
		ExprContains []string          `yaml:"expr_contains"`
		MaxFor       model.Duration    `yaml:"max_for"`
		Labels       map[string]string `yaml:"labels"`
		Threshold    string            `yaml:"threshold"`
	} `yaml:"required_alerts"`
}

// LoadPolicy reads and parses a policy file.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.Path = path
	return p, nil
}

// ParsePolicy parses a policy. Unknown fields are errors, so that a typo
// does not silently weaken the policy.
func ParsePolicy(data []byte) (*Policy, error) {
	var raw policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		var msgs []string
		for _, lm := range yamlErrorLines(err) {
			if lm.line > 0 {
				msgs = append(msgs, fmt.Sprintf("line %d: %s", lm.line, lm.msg))
			} else {
				msgs = append(msgs, lm.msg)
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(msgs, "; "))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	_, entries := mapGet(&root, "required_alerts")
	nodes := seqItems(entries)

	p := &Policy{RequiredAlerts: []RequiredAlert{}}
	ids := map[string]bool{}
	var problems []string
	for i, r := range raw.RequiredAlerts {
		line, _ := nodePos(itemAt(nodes, i))
		req := RequiredAlert{
			ID: r.ID, Description: r.Description, Alert: r.Match.Alert,
			ExprContains: r.ExprContains, MaxFor: time.Duration(r.MaxFor),
			Labels: r.Labels, Line: line, labelRes: map[string]*regexp.Regexp{},
		}
		where := fmt.Sprintf("required_alerts[%d] (line %d)", i, line)
		if req.ID == "" {
			problems = append(problems, where+": id is required")
		} else if ids[req.ID] {
			problems = append(problems, fmt.Sprintf("%s: id %q is used twice", where, req.ID))
		}
		ids[req.ID] = true
		var err error
		if req.Alert == "" {
			problems = append(problems, where+": match.alert is required")
		} else if req.alertRe, err = anchored(req.Alert); err != nil {
			problems = append(problems, fmt.Sprintf("%s: match.alert: %v", where, err))
		}
		for _, k := range sortedKeys(req.Labels) {
			if req.labelRes[k], err = anchored(req.Labels[k]); err != nil {
				problems = append(problems, fmt.Sprintf("%s: labels.%s: %v", where, k, err))
			}
		}
		if r.Threshold != "" {
			if req.Threshold, err = parseThreshold(r.Threshold); err != nil {
				problems = append(problems, fmt.Sprintf("%s: threshold: %v", where, err))
			}
		}
		p.RequiredAlerts = append(p.RequiredAlerts, req)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(problems, "; "))
	}
	return p, nil
}

func anchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

func parseThreshold(s string) (*Threshold, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return nil, fmt.Errorf("%q: not a number after %s", s, op)
			}
			return &Threshold{Op: op[:1], Value: v}, nil
		}
	}
	return nil, fmt.Errorf("%q: write a comparison such as \"> 0.05\"", s)
}

func (p *Policy) path() string { return cmp.Or(p.Path, "<policy>") }

// evaluate checks the policy against the alerting rules of all files.
func (p *Policy) evaluate(alerts []alertRule, sev severities) ([]PolicyMiss, FileResult) {
	c := &collector{file: p.path(), sev: sev}
	misses := []PolicyMiss{}
	for _, req := range p.RequiredAlerts {
		reason, ok := req.satisfiedBy(alerts)
		if ok {
			continue
		}
		misses = append(misses, PolicyMiss{ID: req.ID, Description: req.Description, Reason: reason})
		what := strconv.Quote(req.ID)
		if req.Description != "" {
			what += " (" + req.Description + ")"
		}
		c.add(Diagnostic{Line: req.Line, Check: checkMissingRequiredAlert, Message: fmt.Sprintf("required alert %s is missing: %s", what, reason)})
	}
	res := FileResult{Path: p.path(), Kind: KindPolicy, Diagnostics: nonNil(sortDiagnostics(c.diags))}
	return misses, res
}

// satisfiedBy reports whether a rule satisfies req and, if none does, why
// the closest candidate falls short.
func (req RequiredAlert) satisfiedBy(alerts []alertRule) (string, bool) {
	if req.alertRe == nil {
		return "the entry has no valid match.alert", false
	}
	best, bestName := []string(nil), ""
	for _, a := range alerts {
		if !req.alertRe.MatchString(a.name) {
			continue
		}
		fails := req.failures(a)
		if len(fails) == 0 {
			return "", true
		}
		if bestName == "" || len(fails) < len(best) {
			best, bestName = fails, fmt.Sprintf("%s (%s:%d)", a.name, a.file, a.line)
		}
	}
	if bestName == "" {
		return fmt.Sprintf("no alerting rule is named like %q", req.Alert), false
	}
	return fmt.Sprintf("the closest rule, %s, %s", bestName, strings.Join(best, "; ")), false
}

var policyNameRe = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func (req RequiredAlert) failures(a alertRule) []string {
	if a.expr == nil {
		return []string{"has an expression that does not parse"}
	}
	var fails []string
	printed := ""
	for _, want := range req.ExprContains {
		if policyNameRe.MatchString(want) {
			if !slices.Contains(a.metrics, want) && !slices.Contains(a.calls, want) {
				fails = append(fails, fmt.Sprintf("does not use %s", want))
			}
			continue
		}
		if printed == "" {
			printed = a.expr.String()
		}
		if !strings.Contains(printed, want) {
			fails = append(fails, fmt.Sprintf("has no %q in its expression", want))
		}
	}
	if req.MaxFor > 0 && a.hasFor && a.forDur > req.MaxFor {
		fails = append(fails, fmt.Sprintf("waits for %s, longer than max_for %s", model.Duration(a.forDur), model.Duration(req.MaxFor)))
	}
	for _, k := range sortedKeys(req.labelRes) {
		if v := a.labels[k]; !req.labelRes[k].MatchString(v) {
			fails = append(fails, fmt.Sprintf("has label %s=%q, not matching %q", k, v, req.Labels[k]))
		}
	}
	if req.Threshold != nil && !thresholdMet(a.expr, *req.Threshold) {
		fails = append(fails, fmt.Sprintf("has no comparison firing at %s", req.Threshold))
	}
	return fails
}

// thresholdMet looks for a filtering comparison with a number that fires at
// least whenever the required threshold is crossed.
func thresholdMet(expr parser.Expr, t Threshold) bool {
	met := false
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		b, ok := node.(*parser.BinaryExpr)
		if !ok || !b.Op.IsComparisonOperator() || b.ReturnBool {
			return nil
		}
		op := b.Op
		lit, ok := numberValue(b.RHS)
		if !ok {
			if lit, ok = numberValue(b.LHS); !ok {
				return nil
			}
			op = flip(op)
		}
		switch {
		case t.Op == ">" && (op == parser.GTR || op == parser.GTE) && lit <= t.Value:
			met = true
		case t.Op == "<" && (op == parser.LSS || op == parser.LTE) && lit >= t.Value:
			met = true
		}
		return nil
	})
	return met
}

func numberValue(e parser.Expr) (float64, bool) {
	switch n := unparen(e).(type) {
	case *parser.NumberLiteral:
		return n.Val, true
	case *parser.UnaryExpr:
		if v, ok := numberValue(n.Expr); ok && n.Op == parser.SUB {
			return -v, true
		}
	}
	return 0, false
}

func flip(op parser.ItemType) parser.ItemType {
	switch op {
	case parser.GTR:
		return parser.LSS
	case parser.GTE:
		return parser.LTE
	case parser.LSS:
		return parser.GTR
	case parser.LTE:
		return parser.GTE
	}
	return op
}
