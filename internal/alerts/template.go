package alerts

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	promtemplate "github.com/prometheus/prometheus/template"
)

// prometheus242TemplateFuncs are the functions the template expander of
// Prometheus 2.42 (and promtool's check) knows. Prometheus 3 added now,
// toDuration and urlQueryEscape; a template using them fails to load on 2.42.
var prometheus242TemplateFuncs = []string{
	"args", "externalURL", "first", "graphLink", "humanize", "humanize1024",
	"humanizeDuration", "humanizePercentage", "humanizeTimestamp", "label",
	"match", "parseDuration", "pathPrefix", "query", "reReplaceAll",
	"safeHtml", "sortByLabel", "stripDomain", "stripPort", "strvalue",
	"tableLink", "title", "toLower", "toTime", "toUpper", "value",
}

// prometheusTemplateDefs are the variables rulefmt defines before every
// label and annotation template it parses.
const prometheusTemplateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// alertmanager025TemplateFuncs are the functions of Alertmanager 0.25's
// template.DefaultFuncs, the platform's version. Later versions added date,
// tz, toJson, trimSpace and others; a template using them does not parse on
// 0.25.
var alertmanager025TemplateFuncs = []string{
	"join", "match", "reReplaceAll", "safeHtml", "stringSlice", "title", "toLower", "toUpper",
}

// goBuiltins are the functions text/template adds to every template, as of
// Go 1.19, with which the platform's Prometheus and Alertmanager are built.
var goBuiltins = []string{
	"and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt",
	"ne", "not", "or", "print", "printf", "println", "slice", "urlquery",
}

// Function sets for parsing. Parsing checks only that a function of a
// name exists, so the values are placeholders; parsing with
// text/template/parse directly saves building a template and its reflected
// function table for every label and annotation.
var (
	prometheus242ParseFuncs   = nameSet(goBuiltins, prometheus242TemplateFuncs)
	alertmanager025ParseFuncs = nameSet(goBuiltins, alertmanager025TemplateFuncs)
)

func nameSet(lists ...[]string) map[string]any {
	m := map[string]any{}
	for _, l := range lists {
		for _, name := range l {
			m[name] = true
		}
	}
	return m
}

// parsePrometheus242Template parses a label or annotation template the way
// promtool 2.42 does.
func parsePrometheus242Template(text string) error {
	if !strings.Contains(text, "{{") {
		return nil
	}
	_, err := parse.Parse("t", prometheusTemplateDefs+text, "", "", prometheus242ParseFuncs)
	return err
}

// parsePrometheusTemplate parses a label or annotation template exactly as
// rulefmt does, with the expander and functions of Prometheus 3.
func parsePrometheusTemplate(alert, text string) error {
	data := promtemplate.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	exp := promtemplate.NewTemplateExpander(context.Background(), prometheusTemplateDefs+text, "__alert_"+alert, data, model.Now(), nil, nil, nil)
	return exp.ParseTest()
}

// parseAlertmanagerTemplate parses an Alertmanager template as Alertmanager
// 0.25 does, with its DefaultFuncs: parse only, so that
// {{ template "name" . }} may refer to templates defined in files loaded at
// run time. The error, if any, names a line of text (1-based).
func parseAlertmanagerTemplate(name, text string) error {
	_, err := parse.Parse(name, text, "", "", alertmanager025ParseFuncs)
	return err
}

var (
	templateErrPrefixRe = regexp.MustCompile(`^template: (.*?):(\d+): (.*)$`)
	undefinedFuncRe     = regexp.MustCompile(`function "([^"]+)" not defined`)
)

// templateError is a text/template parse error taken apart.
type templateError struct {
	line int // 1-based line within the template; 0 when unknown
	msg  string
}

func splitTemplateError(name string, err error) templateError {
	text := err.Error()
	prefix := "template: " + name + ":"
	if rest, ok := strings.CutPrefix(text, prefix); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				return templateError{line: n, msg: rest[i+2:]}
			}
		}
	}
	if m := templateErrPrefixRe.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[2])
		return templateError{line: n, msg: m[3]}
	}
	return templateError{msg: text}
}

// templateErrorDetail is the message of a template error without its
// "template: name:line:" prefix.
func templateErrorDetail(err error) string {
	return splitTemplateError("t", err).msg
}

// explainAlertmanagerFunc adds to an "undefined function" error that the
// function exists in newer Alertmanager versions than the platform's.
func explainAlertmanagerFunc(msg string) string {
	m := undefinedFuncRe.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	if _, ok := amtemplate.DefaultFuncs[m[1]]; ok && !slices.Contains(alertmanager025TemplateFuncs, m[1]) {
		return msg + " in Alertmanager 0.25 (it was added in a later version)"
	}
	return msg
}
