package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// secretMarker is the literal the fuzz seeds put in database.url. Matching is
// case-insensitive because viper lower-cases keys.
const secretMarker = "secretvalue"

// FuzzLoad writes each input as the config file named by --config and loads
// it. Load must not panic; every error must be an *Errors whose entries all
// say something; a successful load must be showable (Settings, Tree, a source
// for every key); and a secret held only in database.url must never appear
// in an error (nor, redacted, in what config show prints).
func FuzzLoad(f *testing.F) {
	f.Add(Example)
	for _, seed := range []string{
		"",
		"output: json\n",
		"output: [json]\n",
		"output: nope\nverbose: true\nquiet: true\n",
		"no_color: yes\nverbose: 1\n",
		"data_dir: rel/dir\nalerts:\n  policy: policy.yaml\n",
		"data_dir: ''\n",
		"alerts:\n  scrape_interval: 30\n",
		"alerts:\n  scrape_interval: -1m\n  required_labels:\n    team: []\n    'bad-name': [x]\n  required_annotations: [summary, 'bad name']\n  checks:\n    for: off\n    rate-range: loud\n",
		"alerts:\n  required_labels: [severity]\n  checks: [for]\n",
		"alerts: 3\n",
		"outptu: json\nalerts:\n  scrape_intervall: 1m\n",
		"- a\n- b\n",
		"just a string\n",
		"output: json\noutput: yaml\n",
		"a: &x [*x]\n",
		"output: {\n",
		"\t- tab\n",
		"database:\n  url: SECRETVALUE123\n",
		"database:\n  url: 12345\n",
		"database:\n  url: file:db-url\n",
		"database:\n  url: 'env:SECRETVALUE 123'\n",
		"database:\n  url: <redacted>\n",
		"database:\n  url: 'file:'\n",
		"database:\n  url: [SECRETVALUE123]\n",
		"database:\n  url: [postgres://u:SECRETVALUE123@h/db, 2]\n",
		"database:\n  url:\n    user: SECRETVALUE123\n",
		"database:\n  url: {SECRETVALUE123: 1}\n",
		"database:\n  url: !!int SECRETVALUE123\n",
		"database:\n  url: !!bool SECRETVALUE123\n",
		"database:\n  url: !!float SECRETVALUE123\n",
		"database:\n  url: !!map SECRETVALUE123\n",
		"database:\n  url: !!seq SECRETVALUE123\n",
		"database:\n  url: !!timestamp SECRETVALUE123\n",
		"database:\n  url: !!binary SECRETVALUE123\n",
		"database:\n  url: !!str SECRETVALUE123\n",
		"database:\n  url: &s SECRETVALUE123\n  other: *s\n",
		"Database:\n  URL: postgres://u:SECRETVALUE123@h/db\n  Urll: 1\n",
		"database.url: SECRETVALUE123\noutput: nope\n",
		"database:\n  url: \"SECRETVALUE123\\x00\"\n",
		"database:\n  url: |\n    SECRETVALUE123\n    more\n",
		"database:\n  url: SECRETVALUE123\ndatabase:\n  url: x\n",
		"database:\n  url: SECRETVALUE123\n  url: again\n",
		"database: SECRETVALUE123\n",
	} {
		f.Add([]byte(seed))
	}

	dir := f.TempDir()
	f.Setenv("HOME", dir)
	f.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	f.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, EnvPrefix+"_") {
			f.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	path := filepath.Join(dir, "config.yaml")
	keys := Keys("")

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(LoadOptions{File: path, FileSource: "flag --config"})
		secretOnlyInURL := secretOnlyUnderURL(data)

		if err != nil {
			if cfg != nil {
				t.Errorf("Load returned both a config and an error")
			}
			var es *Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, not *config.Errors: %v", err, err)
			}
			if len(*es) == 0 {
				t.Fatalf("empty *Errors")
			}
			for _, e := range *es {
				if strings.TrimSpace(e.Msg) == "" {
					t.Errorf("entry without a message: %+v", e)
				}
			}
			if msg := err.Error(); secretOnlyInURL && strings.Contains(strings.ToLower(msg), secretMarker) {
				t.Fatalf("error reveals the secret in database.url:\n%s", msg)
			}
			return
		}

		if cfg == nil {
			t.Fatal("Load returned neither a config nor an error")
		}
		if cfg.File != path {
			t.Errorf("File = %q, want %q", cfg.File, path)
		}
		settings := cfg.Settings()
		if len(settings) != len(keys) {
			t.Errorf("Settings has %d entries, want %d", len(settings), len(keys))
		}
		tree := cfg.Tree()
		for _, k := range keys {
			if cfg.Source(k.Name) == "" {
				t.Errorf("Source(%q) is empty", k.Name)
			}
		}
		if secretOnlyInURL && cfg.Database.URL.Reference() == "literal" {
			shown := fmt.Sprintf("%v %v %+v %#v", settings, tree, *cfg, *cfg)
			if strings.Contains(strings.ToLower(shown), secretMarker) {
				t.Fatalf("shown configuration reveals the secret in database.url:\n%s", shown)
			}
		}
	})
}

// secretOnlyUnderURL reports whether the marker occurs in data, and only in
// values (or keys) under database.url: then Load's errors must not contain
// it, since echoing anything else that mentions it is legitimate. Aliases
// are followed, so an anchor under database.url used elsewhere counts as
// elsewhere; a file: or env: reference is not a secret; the marker in a comment, tag, anchor name, another document or
// only through an escape sequence makes the input not qualify.
func secretOnlyUnderURL(data []byte) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return false
	}
	count := func(s string) int { return strings.Count(strings.ToLower(s), secretMarker) }
	inside, outside := 0, 0
	seen := map[*yaml.Node]bool{} // alias targets already counted outside
	var walk func(n *yaml.Node, path string, under bool)
	walk = func(n *yaml.Node, path string, under bool) {
		if n == nil {
			return
		}
		outside += count(n.Tag) + count(n.Anchor) + count(n.HeadComment) + count(n.LineComment) + count(n.FootComment)
		switch n.Kind {
		case yaml.ScalarNode:
			// file:PATH and env:NAME are references, shown by design.
			ref := strings.HasPrefix(n.Value, "file:") || strings.HasPrefix(n.Value, "env:")
			if under && !(path == "database.url" && ref) {
				inside += count(n.Value)
			} else {
				outside += count(n.Value)
			}
		case yaml.AliasNode:
			if !under && n.Alias != nil && !seen[n.Alias] {
				seen[n.Alias] = true
				walk(n.Alias, path, false)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := strings.ToLower(k.Value)
				if path != "" {
					key = path + "." + key
				}
				u := under || key == "database.url" || strings.HasPrefix(key, "database.url.")
				walk(k, path, u)
				walk(v, key, u)
			}
		default:
			for _, c := range n.Content {
				walk(c, path, under)
			}
		}
	}
	walk(&doc, "", false)
	return inside > 0 && outside == 0 && count(string(data)) <= inside && !bytes.Contains(data, []byte("\n---"))
}
