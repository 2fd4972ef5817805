package alerts

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// posMap maps a position in validated content back to the file the user
// wrote. Content unwrapped from a Kubernetes object sits at an offset in the
// manifest (a PrometheusRule spec, a literal block in a Secret) or, when it
// was encoded (base64, a quoted string), cannot be mapped line by line and is
// pinned to the node that held it.
type posMap struct {
	lineOff, colOff int
	// pinned maps every position to (line, col): the node that held
	// content we cannot map line by line.
	pinned    bool
	line, col int
}

func (m posMap) apply(line, col int) (int, int) {
	if m.pinned {
		return m.line, m.col
	}
	if line <= 0 {
		// Unknown inside wrapped content: the wrapper's position is
		// still better than nothing.
		return m.line, m.col
	}
	if col <= 0 {
		return line + m.lineOff, 0
	}
	return line + m.lineOff, col + m.colOff
}

// collector gathers the diagnostics of one file, resolving severities and
// mapping positions.
type collector struct {
	file  string
	sev   severities
	diags []Diagnostic
}

func (c *collector) add(d Diagnostic) {
	s := c.sev[d.Check]
	if s == "" || s == SeverityOff {
		return
	}
	d.Severity = s
	d.File = c.file
	d.Message = oneLine(d.Message)
	c.diags = append(c.diags, d)
}

// unitCollector adds diagnostics found in one unit of content, shifting
// their positions into the file.
type unitCollector struct {
	*collector
	pos posMap
}

func (u unitCollector) at(check string, line, col int, msg string) *Diagnostic {
	l, c := u.pos.apply(line, col)
	return &Diagnostic{Line: l, Column: c, Check: check, Message: msg}
}

func (u unitCollector) report(check string, line, col int, msg string) {
	u.add(*u.at(check, line, col, msg))
}

func (u unitCollector) reportRule(check string, line, col int, group, rule, msg string) {
	d := u.at(check, line, col, msg)
	d.Group, d.Rule = group, rule
	u.add(*d)
}

func (u unitCollector) reportNode(check string, n *yaml.Node, msg string) {
	line, col := nodePos(n)
	u.report(check, line, col, msg)
}

// oneLine keeps messages on one line so that the compiler-style output stays
// one diagnostic per line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func nodePos(n *yaml.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	return n.Line, n.Column
}

var (
	yamlLineRe    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlPrefixRe  = regexp.MustCompile(`^yaml: (?:unmarshal errors:)?\s*`)
	quotedValueRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// yamlErrorLines splits a YAML error into one message per problem with the
// line it names, if any. Both yaml.v3 (rules) and yaml.v2 (Alertmanager)
// format unmarshal errors as "yaml: unmarshal errors:\n  line N: ..." and
// syntax errors as "yaml: line N: ...".
type lineMessage struct {
	line int
	msg  string
}

func yamlErrorLines(err error) []lineMessage {
	var te *yaml.TypeError
	var parts []string
	if errors.As(err, &te) {
		parts = te.Errors
	} else {
		text := err.Error()
		if strings.HasPrefix(text, "yaml: unmarshal errors:") {
			parts = strings.Split(strings.TrimPrefix(text, "yaml: unmarshal errors:"), "\n")
		} else {
			parts = []string{text}
		}
	}
	var out []lineMessage
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if m := yamlLineRe.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, lineMessage{line: n, msg: m[2]})
			continue
		}
		out = append(out, lineMessage{msg: yamlPrefixRe.ReplaceAllString(p, "")})
	}
	return out
}

// locateQuoted finds the node an error message is about when the library
// gives no position: the first scalar whose value the message quotes. It is
// a heuristic, used only where nothing better exists.
func locateQuoted(root *yaml.Node, msg string) *yaml.Node {
	if root == nil {
		return nil
	}
	for _, q := range quotedValueRe.FindAllString(msg, -1) {
		v, err := strconv.Unquote(q)
		if err != nil || v == "" {
			continue
		}
		if n := findScalar(root, v); n != nil {
			return n
		}
	}
	return nil
}

func findScalar(n *yaml.Node, value string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == value {
		return n
	}
	if n.Kind == yaml.MappingNode {
		// Prefer values: a key rarely is what an error is about.
		for i := 1; i < len(n.Content); i += 2 {
			if f := findScalar(n.Content[i], value); f != nil {
				return f
			}
		}
		return nil
	}
	for _, c := range n.Content {
		if f := findScalar(c, value); f != nil {
			return f
		}
	}
	return nil
}

// mapGet returns the key and value nodes of key in mapping n.
func mapGet(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// deref follows document and alias nodes to the content they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// source is validated content split into lines, to turn offsets inside a
// scalar (a PromQL expression, a template) into file positions.
type source struct {
	lines []string
}

func newSource(data []byte) source {
	return source{lines: strings.Split(string(data), "\n")}
}

func (s source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return strings.TrimSuffix(s.lines[n-1], "\r")
}

// scalarPos returns the position of the character at (line, col) of the
// value of scalar node n, both 0-based within the value. It is exact for
// single-line plain or quoted scalars and for literal blocks (|), the forms
// expressions and templates are written in; for anything else (folded
// blocks, multi-line flow scalars, escapes) it falls back to the node.
func (s source) scalarPos(n *yaml.Node, line, col int) (int, int) {
	if n == nil {
		return 0, 0
	}
	switch n.Style {
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line != 0 || strings.Contains(n.Value, "\n") {
			break
		}
		text := s.line(n.Line)
		start := n.Column - 1
		if n.Style != 0 {
			start++ // opening quote
		}
		if start < 0 || start+len(n.Value) > len(text) || text[start:start+len(n.Value)] != n.Value {
			break // escapes, or the value runs over several lines
		}
		return n.Line, n.Column + col + (start - (n.Column - 1))
	case yaml.LiteralStyle:
		target := n.Line + 1 + line
		indent := s.blockIndent(n.Line + 1)
		if indent < 0 {
			break
		}
		if text := s.line(target); len(text) < indent || strings.TrimSpace(text[:indent]) != "" {
			break
		}
		return target, indent + col + 1
	}
	return n.Line, n.Column
}

// blockIndent is the indentation of the first non-blank line from line on:
// the indentation of a block scalar's content.
func (s source) blockIndent(from int) int {
	for l := from; l <= len(s.lines); l++ {
		text := s.line(l)
		if strings.TrimSpace(text) == "" {
			continue
		}
		return len(text) - len(strings.TrimLeft(text, " "))
	}
	return -1
}

// offsetLineCol turns a byte offset into text into 0-based line and column.
func offsetLineCol(text string, off int) (int, int) {
	if off > len(text) {
		off = len(text)
	}
	if off < 0 {
		off = 0
	}
	if off == len(text) && off > 0 && text[off-1] == '\n' {
		off-- // "unexpected end of input": point at the last line, not past it
	}
	before := text[:off]
	line := strings.Count(before, "\n")
	col := off - (strings.LastIndexByte(before, '\n') + 1)
	return line, col
}
