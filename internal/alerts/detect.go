package alerts

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unit is one piece of content to validate: a whole plain file, or what was
// unwrapped from one Kubernetes object of a manifest.
type unit struct {
	kind    Kind
	wrapper string
	// node is the content, already parsed, with positions in the file; nil
	// when data has to be parsed (Secret content, a broken file).
	node *yaml.Node
	// data is the content as text, and src its lines.
	data []byte
	src  source
	pos  posMap
	// templates are Alertmanager template files that travel with the
	// configuration: the *.tmpl keys of its Secret.
	templates []templateFile
}

type templateFile struct {
	name string
	data []byte
	pos  posMap
}

// detection is what a file turned out to be.
type detection struct {
	kind    Kind
	wrapper string
	units   []unit
	// ours is false for a file that holds nothing this package validates;
	// such files are skipped when a directory is walked.
	ours  bool
	empty bool
	// yamlErr is why a file we could not classify is not valid YAML.
	yamlErr error
}

// Top-level keys that identify a file. Alertmanager's keys are those of its
// configuration file; promtool's unit-test files are recognised only so that
// they are not reported as unknown.
var (
	alertmanagerKeys = []string{"route", "receivers", "global", "inhibit_rules", "templates", "time_intervals", "mute_time_intervals"}
	ruleTestKeys     = []string{"rule_files", "tests", "evaluation_interval", "group_eval_order"}
	topKeyRe         = regexp.MustCompile(`(?m)^["']?([A-Za-z_]+)["']?[ \t]*:`)
	kindLineRe       = regexp.MustCompile(`(?m)^kind:[ \t]*["']?([A-Za-z]+)`)
)

// detect works out what data holds and splits it into units. Findings about
// the file as a whole (extra documents, unsupported objects) go to c.
func detect(name string, data []byte, force Kind, c *collector) detection {
	if force == KindRules || force == KindAlertmanager {
		return detection{kind: force, ours: true, units: []unit{{kind: force, data: data, src: newSource(data)}}}
	}
	docs, docErr := decodeDocuments(data)
	file := unitCollector{collector: c}
	if len(docs) == 0 {
		if docErr == nil {
			return detection{kind: KindUnknown, empty: true}
		}
		// The first document is broken: guess from the text, so that
		// the right parser reports the syntax error.
		return detectBroken(name, data, docErr)
	}
	first := deref(docs[0])
	if isK8sObject(first) {
		return detectManifest(data, docs, docErr, file)
	}
	kind := KindUnknown
	switch {
	case first == nil:
		return detection{kind: KindUnknown, empty: true}
	case hasAnyKey(first, "groups"):
		kind = KindRules
	case hasAnyKey(first, alertmanagerKeys...):
		kind = KindAlertmanager
	case hasAnyKey(first, ruleTestKeys...):
		return detection{kind: KindRuleTests, ours: true}
	case first.Kind == yaml.MappingNode && isRulesExt(name):
		kind = KindRules
	default:
		return detection{kind: KindUnknown}
	}
	warnExtraDocuments(kind, docs, docErr, file)
	return detection{kind: kind, ours: true, units: []unit{{kind: kind, node: docs[0], data: data, src: newSource(data)}}}
}

// decodeDocuments decodes every YAML document of data. Empty documents (a
// trailing "---", a lone "null") are dropped. On a syntax error it returns
// the documents before it and the error.
func decodeDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if !isEmptyDocument(&doc) || len(docs) == 0 {
			docs = append(docs, &doc)
		}
	}
}

func isEmptyDocument(doc *yaml.Node) bool {
	n := deref(doc)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// detectBroken classifies a file whose first document is not valid YAML by
// its top-level keys, found with a regular expression.
func detectBroken(name string, data []byte, yamlErr error) detection {
	keys := map[string]bool{}
	for _, m := range topKeyRe.FindAllSubmatch(data, -1) {
		keys[string(m[1])] = true
	}
	kind := KindUnknown
	wrapper := ""
	if m := kindLineRe.FindSubmatch(data); m != nil && keys["apiVersion"] {
		switch string(m[1]) {
		case "PrometheusRule":
			kind, wrapper = KindRules, WrapperPrometheusRule
		case "Secret":
			kind, wrapper = KindAlertmanager, WrapperSecret
		}
	} else {
		switch {
		case keys["groups"] || isRulesExt(name):
			kind = KindRules
		case slices.ContainsFunc(alertmanagerKeys, func(k string) bool { return keys[k] }):
			kind = KindAlertmanager
		}
	}
	if kind == KindUnknown {
		return detection{kind: KindUnknown, yamlErr: yamlErr}
	}
	// The parser of that kind reports the syntax error, with its line.
	return detection{kind: kind, wrapper: wrapper, ours: true, units: []unit{{kind: kind, wrapper: wrapper, data: data, src: newSource(data)}}}
}

func isRulesExt(name string) bool {
	return strings.EqualFold(filepath.Ext(name), ".rules")
}

func hasAnyKey(n *yaml.Node, keys ...string) bool {
	for _, k := range keys {
		if kn, _ := mapGet(n, k); kn != nil {
			return true
		}
	}
	return false
}

func scalarValue(n *yaml.Node, key string) string {
	_, v := mapGet(n, key)
	v = deref(v)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func isK8sObject(n *yaml.Node) bool {
	return scalarValue(n, "apiVersion") != "" && scalarValue(n, "kind") != ""
}

// warnExtraDocuments reports documents after the first in a plain rule file
// or Alertmanager configuration: promtool 2.42 and Alertmanager silently
// ignore them, so a rule there is never loaded.
func warnExtraDocuments(kind Kind, docs []*yaml.Node, docErr error, u unitCollector) {
	if len(docs) < 2 && docErr == nil {
		return
	}
	reader := "promtool and Prometheus read"
	if kind == KindAlertmanager {
		reader = "Alertmanager reads"
	}
	extra := ""
	if docErr != nil {
		extra = fmt.Sprintf(" (and a later document is not valid YAML: %s)", strings.TrimPrefix(docErr.Error(), "yaml: "))
	}
	line := 0
	if len(docs) >= 2 {
		line = docs[1].Line
	} else if lm := yamlErrorLines(docErr); len(lm) > 0 {
		line = lm[0].line
	}
	u.report(checkMultipleDocuments, line, 0, fmt.Sprintf("this file has more than one YAML document, but %s only the first: everything from here on is ignored%s", reader, extra))
}

// detectManifest handles a stream of Kubernetes objects, where several
// documents are normal: every PrometheusRule and every Secret holding
// alertmanager.yaml becomes a unit; "kind: List" items are looked into too.
func detectManifest(data []byte, docs []*yaml.Node, docErr error, u unitCollector) detection {
	src := newSource(data)
	d := detection{kind: KindUnknown}
	for _, doc := range docs {
		for _, obj := range k8sObjects(deref(doc)) {
			apiVersion, kind := scalarValue(obj, "apiVersion"), scalarValue(obj, "kind")
			_, kindNode := mapGet(obj, "kind")
			switch {
			case kind == "PrometheusRule" && strings.HasPrefix(apiVersion, "monitoring.coreos.com/"):
				d.ours = true
				_, spec := mapGet(obj, "spec")
				if spec == nil {
					u.reportNode(checkRuleFormat, kindNode, "PrometheusRule has no spec")
					continue
				}
				// The spec is a rule file in place: validated as a
				// node, its positions are the manifest's.
				d.units = append(d.units, unit{kind: KindRules, wrapper: WrapperPrometheusRule, node: spec, data: data, src: src})
			case kind == "Secret":
				if un, ok := secretUnit(src, obj, u); ok {
					d.ours = true
					d.units = append(d.units, un)
				}
			case kind == "AlertmanagerConfig" && strings.HasPrefix(apiVersion, "monitoring.coreos.com/"):
				d.ours = true
				u.reportNode(checkUnsupportedObject, kindNode, "AlertmanagerConfig objects are not validated (only Alertmanager configuration files and Secrets holding alertmanager.yaml are)")
			}
		}
	}
	if docErr != nil && d.ours {
		for _, lm := range yamlErrorLines(docErr) {
			u.report(checkYAML, lm.line, 0, lm.msg)
		}
	}
	if len(d.units) > 0 {
		d.kind, d.wrapper = d.units[0].kind, d.units[0].wrapper
	}
	return d
}

func k8sObjects(n *yaml.Node) []*yaml.Node {
	if scalarValue(n, "kind") != "List" {
		return []*yaml.Node{n}
	}
	_, items := mapGet(n, "items")
	items = deref(items)
	if items == nil || items.Kind != yaml.SequenceNode {
		return nil
	}
	var objs []*yaml.Node
	for _, it := range items.Content {
		if it = deref(it); it != nil && it.Kind == yaml.MappingNode {
			objs = append(objs, it)
		}
	}
	return objs
}

// secretKey is the key of a Secret under which prometheus-operator (and
// kube-prometheus) keep the Alertmanager configuration.
const secretKey = "alertmanager.yaml"

// secretUnit unwraps the Alertmanager configuration of a Secret. stringData
// wins over data, as it does in Kubernetes. Other keys ending in .tmpl are
// the notification templates mounted next to it.
func secretUnit(src source, obj *yaml.Node, u unitCollector) (unit, bool) {
	values := map[string]secretValue{}
	for _, field := range []string{"data", "stringData"} {
		_, m := mapGet(obj, field)
		m = deref(m)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			values[m.Content[i].Value] = secretValue{node: deref(m.Content[i+1]), encoded: field == "data"}
		}
	}
	cfg, ok := values[secretKey]
	if !ok || cfg.node == nil {
		return unit{}, false
	}
	content, pos, err := cfg.decode(src)
	if err != nil {
		u.reportNode(checkAlertmanagerConfig, cfg.node, fmt.Sprintf("data.%s is not valid base64: %v", secretKey, err))
		return unit{kind: KindAlertmanager, wrapper: WrapperSecret, pos: pos}, true
	}
	un := unit{kind: KindAlertmanager, wrapper: WrapperSecret, data: content, src: newSource(content), pos: pos}
	for _, name := range sortedKeys(values) {
		v := values[name]
		if !strings.HasSuffix(name, ".tmpl") || v.node == nil {
			continue
		}
		if tc, tpos, err := v.decode(src); err == nil {
			un.templates = append(un.templates, templateFile{name: name, data: tc, pos: tpos})
		}
	}
	return un, true
}

type secretValue struct {
	node    *yaml.Node
	encoded bool
}

// decode returns the content of a Secret value and how its positions map
// into the manifest: a literal block maps line by line, anything else is
// pinned to the value.
func (v secretValue) decode(src source) ([]byte, posMap, error) {
	n := v.node
	pinned := posMap{pinned: true, line: n.Line, col: n.Column}
	if n.Kind != yaml.ScalarNode {
		return nil, pinned, errors.New("not a string")
	}
	if v.encoded {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		return b, pinned, err
	}
	if n.Style == yaml.LiteralStyle {
		if indent := src.blockIndent(n.Line + 1); indent >= 0 {
			return []byte(n.Value), posMap{lineOff: n.Line, colOff: indent, line: n.Line, col: n.Column}, nil
		}
	}
	return []byte(n.Value), pinned, nil
}
