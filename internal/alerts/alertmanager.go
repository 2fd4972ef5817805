package alerts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"
	"go.yaml.in/yaml/v3"
)

// validateAlertmanager validates an Alertmanager configuration as amtool
// check-config does (config.Load, then the templates: files), and adds what
// amtool misses: inline notification templates and fields the platform's
// Alertmanager 0.25 does not know. dir is where relative templates: globs
// are resolved; empty means they are not read.
func (v *validator) validateAlertmanager(u unitCollector, un unit, dir string) {
	root := un.node
	if root == nil {
		root = &yaml.Node{}
		if err := yaml.Unmarshal(un.data, root); err != nil {
			root = nil // config.Load reports the syntax error
		}
	}
	_, route := mapGet(root, "route")
	if empty := emptyRoute(route); empty != nil {
		u.reportNode(checkAlertmanagerConfig, empty, "empty route: Alertmanager (and amtool) crash on a null entry in routes:")
	} else if err := loadAlertmanagerConfig(un.data); err != nil {
		reportAlertmanagerError(u, root, err)
	}
	if root == nil {
		return
	}
	src := un.src
	top := deref(root)
	checkAlertmanagerCompat(u, top, "")
	_, receivers := mapGet(top, "receivers")
	for _, recv := range seqItems(receivers) {
		checkReceiverTemplates(u, src, recv)
	}
	for _, tf := range un.templates {
		checkTemplateFile(unitCollector{collector: u.collector, pos: tf.pos}, tf.name, tf.data, nil)
	}
	if dir != "" {
		checkTemplateGlobs(u, top, dir)
	}
}

// loadAlertmanagerConfig runs config.Load. It panics on some invalid
// configurations (a null entry in routes:, found by fuzzing; amtool 0.25
// crashes on it too, and Alertmanager would not start): that is an error in
// the file, reported as such.
func loadAlertmanagerConfig(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the configuration crashes Alertmanager's parser (as it does amtool and Alertmanager itself): %v; look for an empty entry in a list such as routes", r)
		}
	}()
	_, err = amconfig.Load(string(data))
	return err
}

// emptyRoute finds a null entry in the routes: of a route tree.
func emptyRoute(route *yaml.Node) *yaml.Node {
	_, routes := mapGet(route, "routes")
	routes = deref(routes)
	if routes == nil || routes.Kind != yaml.SequenceNode {
		return nil
	}
	for _, r := range routes.Content {
		if r.Kind == yaml.AliasNode {
			continue // checked where its anchor is
		}
		if isEmptyDocument(r) {
			return r
		}
		if e := emptyRoute(r); e != nil {
			return e
		}
	}
	return nil
}

// reportAlertmanagerError maps an error of config.Load. YAML errors carry
// lines; semantic ones (undefined receiver, bad matcher) do not, and are
// pinned to the value they quote when it can be found.
func reportAlertmanagerError(u unitCollector, root *yaml.Node, err error) {
	text := err.Error()
	if strings.HasPrefix(text, "yaml: ") {
		for _, lm := range yamlErrorLines(err) {
			u.report(checkYAML, lm.line, 0, lm.msg)
		}
		return
	}
	line, col := nodePos(locateQuoted(root, text))
	u.report(checkAlertmanagerConfig, line, col, text)
}

// checkReceiverTemplates parses every string of a receiver's notifier
// configurations that contains a template action. Alertmanager parses them
// only when it sends a notification, so a typo shows up as a failed
// notification during an incident; amtool does not look at them.
func checkReceiverTemplates(u unitCollector, src source, recv *yaml.Node) {
	recv = deref(recv)
	if recv == nil || recv.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(recv.Content); i += 2 {
		if strings.HasSuffix(recv.Content[i].Value, "_configs") {
			walkTemplateStrings(recv.Content[i+1], recv.Content[i].Value, func(field string, n *yaml.Node) {
				checkInlineTemplate(u, src, field, n)
			})
		}
	}
}

// walkTemplateStrings calls f for every string scalar under n that holds a
// template action, skipping the HTTP, TLS and AWS client settings and *_file
// paths, which are never templated. Aliases are not followed: their anchor
// is checked where it is defined, and following them could take time
// exponential in the size of the file.
func walkTemplateStrings(n *yaml.Node, field string, f func(field string, n *yaml.Node)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			f(field, n)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walkTemplateStrings(c, field, f)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			switch {
			case key == "http_config", key == "tls_config", key == "sigv4", strings.HasSuffix(key, "_file"):
				continue
			}
			walkTemplateStrings(n.Content[i+1], key, f)
		}
	}
}

func checkInlineTemplate(u unitCollector, src source, field string, n *yaml.Node) {
	err := parseAlertmanagerTemplate("inline", n.Value)
	if err == nil {
		return
	}
	te := splitTemplateError("inline", err)
	line, col := nodePos(n)
	if te.line > 0 {
		line, col = src.scalarPos(n, te.line-1, 0)
	}
	u.report(checkAlertmanagerTemplate, line, col, fmt.Sprintf("template in %s does not parse: %s", field, explainAlertmanagerFunc(te.msg)))
}

// checkTemplateGlobs reads the template files the configuration names, as
// amtool check-config does, relative globs from dir. A glob that matches
// nothing is fine: Alertmanager allows it too.
func checkTemplateGlobs(u unitCollector, top *yaml.Node, dir string) {
	_, templates := mapGet(top, "templates")
	for _, entry := range seqItems(templates) {
		if entry == nil || entry.Kind != yaml.ScalarNode || entry.Value == "" {
			continue
		}
		pattern := entry.Value
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(dir, pattern)
		}
		files, err := filepath.Glob(pattern)
		if err != nil {
			u.reportNode(checkAlertmanagerTemplate, entry, fmt.Sprintf("template glob %q: %v", entry.Value, err))
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				u.reportNode(checkAlertmanagerTemplate, entry, fmt.Sprintf("cannot read template file %s: %v", f, err))
				continue
			}
			checkTemplateFile(u, f, data, entry)
		}
	}
}

// checkTemplateFile parses one template file. Its errors are reported at
// entry, the templates: line that names it, or inside the file when it
// travels in the same manifest (entry == nil). amtool 0.25 rejects a
// configuration whose template files do not parse with its functions, so
// functions added later are compat errors here.
func checkTemplateFile(u unitCollector, name string, data []byte, entry *yaml.Node) {
	err := parseAlertmanagerTemplate(name, string(data))
	if err == nil {
		return
	}
	te := splitTemplateError(name, err)
	check := checkAlertmanagerTemplate
	msg := explainAlertmanagerFunc(te.msg)
	if msg != te.msg {
		check = checkCompat
	}
	if entry != nil {
		u.reportNode(check, entry, fmt.Sprintf("template file %s:%d: %s", name, te.line, msg))
		return
	}
	u.report(check, te.line, 0, fmt.Sprintf("template %s:%d: %s", name, te.line, msg))
}

// checkAlertmanagerCompat reports fields Alertmanager 0.25 does not know.
// path is the field path with sequences left out; see alertmanagerNewFields.
// Like walkTemplateStrings, it does not follow aliases.
func checkAlertmanagerCompat(u unitCollector, n *yaml.Node, path string) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			checkAlertmanagerCompat(u, c, path)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			checkAlertmanagerCompat(u, c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := compatPath(path, key)
			if alertmanagerNewFields[p] {
				u.reportNode(checkCompat, n.Content[i], fmt.Sprintf("%s is not supported by Alertmanager 0.25 (it rejects the whole configuration)", key))
				continue
			}
			checkAlertmanagerCompat(u, n.Content[i+1], p)
		}
	}
}

// compatPath extends a field path, folding the shared client settings
// (http_config, tls_config, sigv4) and nested routes onto one path each.
func compatPath(path, key string) string {
	switch {
	case key == "http_config" || key == "tls_config" || key == "sigv4":
		return key
	case key == "routes" && path == ".route":
		return path
	}
	return path + "." + key
}
