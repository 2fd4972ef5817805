package alerts

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/util/strutil"
)

// exprParser is the PromQL parser of one validation run. It memoises
// results because rulefmt's own validation and the checks here parse every
// expression: the cache halves the work on large rule files.
type exprParser struct {
	parser.Parser
	cache map[string]parsedExpr
}

type parsedExpr struct {
	expr parser.Expr
	err  error
}

// newExprParser returns a parser that accepts what Prometheus 2.42 accepts
// as far as the 3.x grammar allows: the default (non-experimental)
// functions, plus holt_winters, which 3.0 renamed to the experimental
// double_exponential_smoothing but 2.42 rule files still use. Syntax that
// only 3.x accepts is parsed and then reported by the compat check.
func newExprParser() *exprParser {
	fns := maps.Clone(parser.Functions)
	fns["holt_winters"] = &parser.Function{
		Name:       "holt_winters",
		ArgTypes:   []parser.ValueType{parser.ValueTypeMatrix, parser.ValueTypeScalar, parser.ValueTypeScalar},
		ReturnType: parser.ValueTypeVector,
	}
	return &exprParser{
		Parser: parser.NewParser(parser.Options{Functions: fns}),
		cache:  map[string]parsedExpr{},
	}
}

// ParseExpr implements parser.Parser.
func (p *exprParser) ParseExpr(input string) (parser.Expr, error) {
	if r, ok := p.cache[input]; ok {
		return r.expr, r.err
	}
	expr, err := p.Parser.ParseExpr(input)
	p.cache[input] = parsedExpr{expr, err}
	return expr, err
}

// exprFinding is a problem inside an expression, at a byte offset of it.
type exprFinding struct {
	check string
	pos   posrange.Pos
	msg   string
}

// newerFunctions are non-experimental functions of the 3.x parser that
// Prometheus 2.42 does not know. (Experimental ones are rejected by the
// parser itself, as they are by a default Prometheus.)
var newerFunctions = map[string]bool{
	"first_over_time":  true,
	"histogram_avg":    true,
	"histogram_stddev": true,
	"histogram_stdvar": true,
}

// rateFunctions need at least two samples in their range to return anything.
var rateFunctions = map[string]bool{
	"rate": true, "irate": true, "increase": true,
	"delta": true, "idelta": true, "deriv": true, "predict_linear": true,
}

// exprAnalysis is what the checks learn from one expression.
type exprAnalysis struct {
	findings []exprFinding
	metrics  []string // metric names selected, sorted
	calls    []string // functions and aggregations used, sorted
}

// analyzeExpr runs the expression checks on a parsed expression.
func analyzeExpr(expr parser.Expr, text string, scrape time.Duration) exprAnalysis {
	var a exprAnalysis
	metrics := map[string]bool{}
	calls := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			a.selector(n, metrics)
		case *parser.Call:
			calls[n.Func.Name] = true
			if newerFunctions[n.Func.Name] {
				a.add(checkCompat, n.PosRange.Start, fmt.Sprintf("function %s() is not available in Prometheus 2.42", n.Func.Name))
			}
			if rateFunctions[n.Func.Name] && len(n.Args) > 0 {
				a.rateRange(n, scrape)
			}
		case *parser.AggregateExpr:
			calls[n.Op.String()] = true
		}
		return nil
	})
	a.syntaxCompat(text)
	a.metrics = slices.Sorted(maps.Keys(metrics))
	a.calls = slices.Sorted(maps.Keys(calls))
	return a
}

func (a *exprAnalysis) add(check string, pos posrange.Pos, msg string) {
	a.findings = append(a.findings, exprFinding{check: check, pos: pos, msg: msg})
}

func (a *exprAnalysis) selector(vs *parser.VectorSelector, metrics map[string]bool) {
	pos := vs.PosRange.Start
	if vs.Anchored || vs.Smoothed {
		a.add(checkCompat, pos, "the anchored and smoothed modifiers are not available in Prometheus 2.42")
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			metrics[m.Value] = true
		}
	}
}

func utf8NameMessage(what, name string) string {
	legacy := "[a-zA-Z_][a-zA-Z0-9_]*"
	if what == "metric" || what == "recording rule" {
		legacy = "[a-zA-Z_:][a-zA-Z0-9_:]*"
	}
	return fmt.Sprintf("%s name %q is valid only under UTF-8 name validation; much of the ecosystem, including Prometheus 2.42, still needs legacy names %s", what, name, legacy)
}

// rateRange checks that a rate-like function sees at least two samples.
// Over a subquery the samples are the subquery's steps, whose default is the
// evaluation interval: the scrape interval stands in for it.
func (a *exprAnalysis) rateRange(call *parser.Call, scrape time.Duration) {
	var rng, step time.Duration
	switch arg := call.Args[0].(type) {
	case *parser.MatrixSelector:
		if arg.RangeExpr != nil {
			return
		}
		rng, step = arg.Range, scrape
	case *parser.SubqueryExpr:
		if arg.RangeExpr != nil || arg.StepExpr != nil {
			return
		}
		rng, step = arg.Range, arg.Step
		if step == 0 {
			step = scrape
		}
	default:
		return
	}
	if rng > 0 && rng < 2*step {
		a.add(checkRateRange, call.PosRange.Start, fmt.Sprintf("%s() over [%s] sees fewer than two samples at a %s interval: use a range of at least %s",
			call.Func.Name, model.Duration(rng), model.Duration(step), model.Duration(2*step)))
	}
}

// syntaxCompat finds syntax the 3.x lexer and grammar accept but Prometheus
// 2.42 rejects, from the tokens: ranges, subquery steps and offsets that are
// not plain duration literals (numbers, duration arithmetic), duration
// literals used as numbers, digit separators, the histogram trim operators
// </ and >/, and quoted label and metric names. A quoted name that is not a
// legacy name is a UTF-8 name, reported by utf8-label-name instead; a name
// can only be one when quoted, so this finds them all.
func (a *exprAnalysis) syntaxCompat(text string) {
	items := lexAll(text)
	at := func(i int) parser.ItemType {
		if i < 0 || i >= len(items) {
			return parser.EOF
		}
		return items[i].Typ
	}
	var bracket []parser.Item
	inBrackets, inBraces, inGrouping := false, false, false
	offsetArg := -1 // index of the token after an offset keyword
	for i, it := range items {
		switch {
		case inBrackets && it.Typ == parser.RIGHT_BRACKET:
			inBrackets = false
			a.bracketCompat(bracket)
			continue
		case inBrackets:
			bracket = append(bracket, it)
			continue
		}
		switch it.Typ {
		case parser.LEFT_BRACKET:
			inBrackets, bracket = true, bracket[:0]
		case parser.LEFT_BRACE:
			inBraces = true
		case parser.RIGHT_BRACE:
			inBraces = false
		case parser.LEFT_PAREN:
			switch at(i - 1) {
			case parser.BY, parser.WITHOUT, parser.ON, parser.IGNORING, parser.GROUP_LEFT, parser.GROUP_RIGHT:
				inGrouping = true
			}
		case parser.RIGHT_PAREN:
			inGrouping = false
		case parser.TRIM_UPPER, parser.TRIM_LOWER:
			a.add(checkCompat, it.Pos, fmt.Sprintf("the histogram trim operator %s is not available in Prometheus 2.42", it.Val))
		case parser.OFFSET:
			if endsOperand(at(i - 1)) {
				offsetArg = i + 1
				if at(i+1) == parser.SUB {
					offsetArg = i + 2
				}
				if at(offsetArg) != parser.DURATION {
					a.add(checkCompat, it.Pos, "offset: Prometheus 2.42 needs a plain duration such as 5m, not a number or an expression")
				}
			}
		case parser.DURATION:
			if i != offsetArg {
				a.add(checkCompat, it.Pos, fmt.Sprintf("duration literal %q used as a number is not supported by Prometheus 2.42: write the number of seconds", it.Val))
			}
		case parser.NUMBER:
			if strings.Contains(it.Val, "_") {
				a.add(checkCompat, it.Pos, fmt.Sprintf("number %q: digit separators are not supported by Prometheus 2.42", it.Val))
			}
		case parser.STRING:
			if !inGrouping && !(inBraces && !isMatchOp(at(i-1))) {
				continue // a value, not a name
			}
			name, err := strutil.Unquote(it.Val)
			metric := inBraces && !isMatchOp(at(i+1))
			legacy := model.LegacyValidation.IsValidLabelName(name)
			if metric {
				legacy = model.LegacyValidation.IsValidMetricName(name)
			}
			switch {
			case err != nil:
			case !legacy && model.UTF8Validation.IsValidLabelName(name):
				what := "label"
				if metric {
					what = "metric"
				}
				a.add(checkUTF8LabelName, it.Pos, utf8NameMessage(what, name))
			default:
				a.add(checkCompat, it.Pos, fmt.Sprintf("quoted name %s: Prometheus 2.42 accepts only unquoted label and metric names", it.Val))
			}
		}
	}
}

func lexAll(text string) []parser.Item {
	lex := parser.Lex(text)
	items := make([]parser.Item, 0, len(text)/4+4)
	var it parser.Item
	for {
		lex.NextItem(&it)
		if it.Typ == parser.EOF || it.Typ == parser.ERROR {
			return items
		}
		items = append(items, it)
	}
}

// endsOperand reports whether a token can end an operand, which tells the
// offset modifier from a metric named offset.
func endsOperand(t parser.ItemType) bool {
	switch t {
	case parser.IDENTIFIER, parser.METRIC_IDENTIFIER, parser.RIGHT_BRACE, parser.RIGHT_BRACKET, parser.RIGHT_PAREN,
		parser.NUMBER, parser.DURATION, parser.STRING:
		return true
	}
	return false
}

func isMatchOp(t parser.ItemType) bool {
	return t == parser.EQL || t == parser.NEQ || t == parser.EQL_REGEX || t == parser.NEQ_REGEX
}

// bracketCompat checks the tokens between [ and ]: 2.42 accepts "5m",
// "5m:" and "5m:1m" only.
func (a *exprAnalysis) bracketCompat(items []parser.Item) {
	ok := false
	switch len(items) {
	case 1:
		ok = items[0].Typ == parser.DURATION
	case 2:
		ok = items[0].Typ == parser.DURATION && items[1].Typ == parser.COLON
	case 3:
		ok = items[0].Typ == parser.DURATION && items[1].Typ == parser.COLON && items[2].Typ == parser.DURATION
	}
	if ok || len(items) == 0 {
		return
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.Val)
	}
	a.add(checkCompat, items[0].Pos, fmt.Sprintf("range [%s]: Prometheus 2.42 needs plain durations such as [5m] or [1h:1m], not numbers or duration arithmetic", b.String()))
}
