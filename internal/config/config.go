// Package config holds repairxctl's typed configuration, how it is loaded
// (flags > REPAIRX_* environment > config file > defaults, through one viper
// instance per load) and how it is validated.
//
// Every key is declared once in Keys with its default and documentation;
// the example file written by `config init`, the environment variable names
// in flag help, and `config show` all come from that table.
package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the decoded, validated configuration shared by every command.
type Config struct {
	// DataDir holds the embedded store, the local secret store and run state.
	DataDir string `mapstructure:"data_dir"`
	// Output is the default output format: table, json, yaml or ndjson.
	Output  string `mapstructure:"output"`
	NoColor bool   `mapstructure:"no_color"`
	Verbose bool   `mapstructure:"verbose"`
	Quiet   bool   `mapstructure:"quiet"`

	Database DatabaseConfig `mapstructure:"database"`
	Alerts   AlertsConfig   `mapstructure:"alerts"`

	// File is the config file that was read, or "" when none was.
	File string `mapstructure:"-"`
	// sources records where each key's value came from.
	sources map[string]string
}

// DatabaseConfig selects the shared PostgreSQL database used by serve, user,
// migrate and backup on several nodes. Empty means the embedded store.
type DatabaseConfig struct {
	URL Secret `mapstructure:"url"`
}

// AlertsConfig configures `alerts validate`.
type AlertsConfig struct {
	// ScrapeInterval is the Prometheus scrape interval the rules run under;
	// rate() ranges shorter than twice this are flagged.
	ScrapeInterval time.Duration `mapstructure:"scrape_interval"`
	// RequiredLabels maps a label every alert must carry to its allowed
	// values (an empty list allows any value).
	RequiredLabels map[string][]string `mapstructure:"required_labels"`
	// RequiredAnnotations lists annotations every alert must carry.
	RequiredAnnotations []string `mapstructure:"required_annotations"`
	// Checks overrides a check's severity: off, warning or error.
	Checks map[string]string `mapstructure:"checks"`
	// Policy is a file of alerts that must exist.
	Policy string `mapstructure:"policy"`
}

// Source describes where key's value came from: "flag --name",
// "env REPAIRX_NAME", "file PATH" or "default".
func (c *Config) Source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	for k := key; k != ""; {
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
		if s, ok := c.sources[k]; ok {
			return s
		}
	}
	return "default"
}

// Key describes one configuration key.
type Key struct {
	Name    string // dotted key, as in the config file
	Default any
	Doc     string
	Secret  bool // value is a Secret: never a flag, redacted when shown
	Map     bool // value is a map whose sub-keys are free-form
}

// EnvName returns the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// EnvPrefix prefixes every environment variable repairxctl reads.
const EnvPrefix = "REPAIRX"

// Keys returns every configuration key with its default. dataDir is the
// default data directory (see DefaultDataDir).
func Keys(dataDir string) []Key {
	return []Key{
		{Name: "data_dir", Default: dataDir, Doc: "Where the embedded store, the local secret store and run state live."},
		{Name: "output", Default: "table", Doc: "Default output format: table, json or yaml (ndjson where a command streams rows)."},
		{Name: "no_color", Default: false, Doc: "Disable colour even on a terminal (NO_COLOR is honoured too)."},
		{Name: "verbose", Default: false, Doc: "Log more detail to stderr."},
		{Name: "quiet", Default: false, Doc: "Print nothing but results and errors."},
		{Name: "database.url", Default: "", Secret: true, Doc: "PostgreSQL URL shared by several serve nodes (a secret: value, file:PATH or env:NAME). Empty: the embedded store."},
		{Name: "alerts.scrape_interval", Default: time.Minute, Doc: "Scrape interval the rules run under; rate() and increase() ranges shorter than twice this are flagged."},
		{Name: "alerts.required_labels", Default: map[string][]string{"severity": {"critical", "warning", "info"}}, Map: true, Doc: "Labels every alert must carry, each with its allowed values ([] allows any value)."},
		{Name: "alerts.required_annotations", Default: []string{"summary", "description", "runbook_url"}, Doc: "Annotations every alert must carry."},
		{Name: "alerts.checks", Default: map[string]string{}, Map: true, Doc: "Per-check severity overrides: off, warning or error (see `alerts validate --help`)."},
		{Name: "alerts.policy", Default: "", Doc: "A policy file listing alerts that must exist."},
	}
}

// DefaultDataDir returns $XDG_DATA_HOME/repairxctl, falling back to
// ~/.local/share/repairxctl as the XDG base directory spec says.
func DefaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "repairxctl")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "repairxctl")
	}
	return filepath.Join(os.TempDir(), "repairxctl")
}

// SearchPaths returns the config files tried, in order, when --config is not
// given: ./repairxctl.yaml, $XDG_CONFIG_HOME/repairxctl/config.yaml (default
// ~/.config) and /etc/repairxctl/config.yaml.
func SearchPaths(getenv func(string) string) []string {
	paths := []string{"repairxctl.yaml"}
	cfgHome := getenv("XDG_CONFIG_HOME")
	if cfgHome == "" || !filepath.IsAbs(cfgHome) {
		if h := getenv("HOME"); h != "" {
			cfgHome = filepath.Join(h, ".config")
		}
	}
	if cfgHome != "" {
		paths = append(paths, filepath.Join(cfgHome, "repairxctl", "config.yaml"))
	}
	return append(paths, "/etc/repairxctl/config.yaml")
}
