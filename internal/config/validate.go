package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// OutputFormats are the values accepted for output.
var OutputFormats = []string{"table", "json", "yaml", "ndjson"}

// CheckSeverities are the values accepted in alerts.checks.
var CheckSeverities = []string{"off", "warning", "error"}

func (c *Config) validate() *Errors {
	var errs Errors
	add := func(key, format string, args ...any) {
		errs = append(errs, Error{Key: key, Source: c.Source(key), Msg: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(OutputFormats, c.Output) {
		add("output", "%q is not an output format: use one of %s", c.Output, strings.Join(OutputFormats, ", "))
	}
	if c.Verbose && c.Quiet {
		// A flag beats a setting from elsewhere (cobra refuses both flags).
		switch {
		case strings.HasPrefix(c.Source("quiet"), "flag "):
			c.Verbose = false
		case strings.HasPrefix(c.Source("verbose"), "flag "):
			c.Quiet = false
		default:
			add("quiet", "quiet and verbose cannot both be set")
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	} else if err := c.absDataDir(); err != nil {
		add("data_dir", "%v", err)
	}
	if err := c.Database.URL.Check(); err != nil {
		add("database.url", "%v", err)
	}
	if c.Alerts.ScrapeInterval <= 0 {
		add("alerts.scrape_interval", "must be a positive duration, got %s", c.Alerts.ScrapeInterval)
	}
	for _, name := range sortedKeys(c.Alerts.RequiredLabels) {
		if !labelNameRE.MatchString(name) {
			add("alerts.required_labels."+name, "%q is not a valid label name", name)
		}
	}
	for _, name := range c.Alerts.RequiredAnnotations {
		if !labelNameRE.MatchString(name) {
			add("alerts.required_annotations", "%q is not a valid annotation name", name)
		}
	}
	for _, name := range sortedKeys(c.Alerts.Checks) {
		if !slices.Contains(CheckSeverities, c.Alerts.Checks[name]) {
			add("alerts.checks."+name, "%q is not a severity: use one of %s", c.Alerts.Checks[name], strings.Join(CheckSeverities, ", "))
		}
	}
	if len(errs) > 0 {
		return &errs
	}
	return nil
}

// Invalid returns an *Errors for key whose value the caller found invalid,
// naming the value's source; commands use it for checks that need a domain
// package (such as known check names).
func (c *Config) Invalid(key, format string, args ...any) error {
	return &Errors{{Key: key, Source: c.Source(key), Msg: fmt.Sprintf(format, args...)}}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
