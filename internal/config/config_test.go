package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// isolate points every search path and XDG directory at an empty temp dir
// and clears REPAIRX_* variables so the developer's own config can't leak in.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, EnvPrefix+"_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("scrape-interval", "1m", "")
	_ = fs.SetAnnotation("scrape-interval", FlagKeyAnnotation, []string{"alerts.scrape_interval"})
	fs.StringP("output", "o", "table", "")
	_ = fs.SetAnnotation("output", FlagKeyAnnotation, []string{"output"})
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestDefaults(t *testing.T) {
	dir := isolate(t)
	cfg, err := Load(LoadOptions{Flags: flags(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "" {
		t.Errorf("File = %q, want none", cfg.File)
	}
	if want := filepath.Join(dir, "data", "repairxctl"); cfg.DataDir != want {
		t.Errorf("DataDir = %q, want %q", cfg.DataDir, want)
	}
	if cfg.Alerts.ScrapeInterval != time.Minute || cfg.Output != "table" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if got := cfg.Alerts.RequiredLabels["severity"]; len(got) != 3 {
		t.Errorf("required_labels.severity = %v", got)
	}
	if s := cfg.Source("alerts.scrape_interval"); s != "default" {
		t.Errorf("source = %q, want default", s)
	}
	if cfg.Server.Listen != "127.0.0.1:8443" || cfg.Auth.AccessTTL != 15*time.Minute || cfg.Auth.RefreshTTL != 7*24*time.Hour ||
		cfg.Auth.BcryptCost != 12 || cfg.RateLimit.Auth != "5/15m" || len(cfg.RateLimit.AllowList) != 0 {
		t.Errorf("serve defaults not applied: %+v %+v %+v", cfg.Server, cfg.Auth, cfg.RateLimit)
	}
}

func TestWholeNumbersFromTheEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("REPAIRX_AUTH_BCRYPT_COST", "10")
	t.Setenv("REPAIRX_SERVER_MAX_BODY_BYTES", "1024")
	cfg, err := Load(LoadOptions{Flags: flags(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.BcryptCost != 10 || cfg.Server.MaxBodyBytes != 1024 {
		t.Errorf("bcrypt_cost %d, max_body_bytes %d", cfg.Auth.BcryptCost, cfg.Server.MaxBodyBytes)
	}
}

func TestFractionsFromTheEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("REPAIRX_TRACING_SAMPLE_RATIO", " 0.25 ")
	cfg, err := Load(LoadOptions{Flags: flags(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.SampleRatio != 0.25 {
		t.Errorf("tracing.sample_ratio = %v, want 0.25", cfg.Tracing.SampleRatio)
	}
	t.Setenv("REPAIRX_TRACING_SAMPLE_RATIO", "half")
	if _, err := Load(LoadOptions{Flags: flags(t)}); err == nil || !strings.Contains(err.Error(), `"half" is not a number`) || !strings.Contains(err.Error(), "REPAIRX_TRACING_SAMPLE_RATIO") {
		t.Errorf("a ratio that is not a number: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		file, env  string
		args       []string
		want       time.Duration
		wantSource string
	}{
		{"default", "", "", nil, time.Minute, "default"},
		{"file", "30s", "", nil, 30 * time.Second, "file repairxctl.yaml:2"},
		{"env over file", "30s", "20s", nil, 20 * time.Second, "env REPAIRX_ALERTS_SCRAPE_INTERVAL"},
		{"flag over env", "30s", "20s", []string{"--scrape-interval=10s"}, 10 * time.Second, "flag --scrape-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			if tt.file != "" {
				writeFile(t, dir, "repairxctl.yaml", "alerts:\n  scrape_interval: "+tt.file+"\n")
			}
			if tt.env != "" {
				t.Setenv("REPAIRX_ALERTS_SCRAPE_INTERVAL", tt.env)
			}
			cfg, err := Load(LoadOptions{Flags: flags(t, tt.args...)})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Alerts.ScrapeInterval != tt.want {
				t.Errorf("scrape_interval = %s, want %s", cfg.Alerts.ScrapeInterval, tt.want)
			}
			if got := cfg.Source("alerts.scrape_interval"); got != tt.wantSource {
				t.Errorf("source = %q, want %q", got, tt.wantSource)
			}
		})
	}
}

func TestSearchOrder(t *testing.T) {
	dir := isolate(t)
	xdg := filepath.Join(dir, "config", "repairxctl")
	if err := os.MkdirAll(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, xdg, "config.yaml", "output: yaml\n")
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Output != "yaml" || cfg.File != filepath.Join(xdg, "config.yaml") {
		t.Fatalf("XDG config not used: output=%q file=%q", cfg.Output, cfg.File)
	}
	writeFile(t, dir, "repairxctl.yaml", "output: json\n")
	cfg, err = Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Output != "json" {
		t.Fatalf("./repairxctl.yaml should win over XDG: output=%q", cfg.Output)
	}
}

func TestErrorsNameKeyAndSource(t *testing.T) {
	tests := []struct {
		name, file, env string
		want            []string
	}{
		{"unknown key with suggestion", "alerts:\n  scrape_intervall: 1m\n", "",
			[]string{`config: alerts.scrape_intervall: unknown key (did you mean "alerts.scrape_interval"?) (from file repairxctl.yaml:2)`}},
		{"bare number is not a duration", "alerts:\n  scrape_interval: 30\n", "",
			[]string{"config: alerts.scrape_interval: 30 is not a duration", "(from file repairxctl.yaml:2)"}},
		{"bad env value", "", "REPAIRX_ALERTS_SCRAPE_INTERVAL=soon",
			[]string{`config: alerts.scrape_interval: "soon" is not a duration`, "(from env REPAIRX_ALERTS_SCRAPE_INTERVAL)"}},
		{"bad output", "output: xml\n", "",
			[]string{`config: output: "xml" is not an output format`, "(from file repairxctl.yaml:1)"}},
		{"bad check severity", "alerts:\n  checks:\n    for: fatal\n", "",
			[]string{`config: alerts.checks.for: "fatal" is not a severity`, "repairxctl.yaml:3"}},
		{"wrong type", "alerts:\n  required_annotations: {a: b}\n", "",
			[]string{"config: alerts.required_annotations:", "(from file repairxctl.yaml:2)"}},
		{"bad secret ref", "database:\n  url: 'env:1BAD'\n", "",
			[]string{`config: database.url: "1BAD" is not an environment variable name (from file repairxctl.yaml:2)`}},
		{"not yaml", "output: [\n", "", []string{"config: ", "file repairxctl.yaml"}},
		{"bad whole number from env", "", "REPAIRX_AUTH_BCRYPT_COST=twelve",
			[]string{`config: auth.bcrypt_cost: "twelve" is not a whole number`, "(from env REPAIRX_AUTH_BCRYPT_COST)"}},
		{"bcrypt cost below 10", "auth:\n  bcrypt_cost: 8\n", "",
			[]string{"config: auth.bcrypt_cost: must be from 10 to 31, got 8", "repairxctl.yaml:2"}},
		{"bad rate-limit network", "ratelimit:\n  allow_list: [10.0.0.0/33]\n", "",
			[]string{`config: ratelimit.allow_list: "10.0.0.0/33" is not an address or a network`}},
		{"bad CORS origin", "server:\n  cors_origins: [app.example.com]\n", "",
			[]string{`server.cors_origins: "app.example.com" is not an origin`}},
		{"half a TLS pair", "server:\n  tls:\n    cert_file: a.crt\n", "",
			[]string{"server.tls.cert_file and server.tls.key_file go together"}},
		{"credentials in the tracing endpoint", "tracing:\n  endpoint: https://svc:hunter2@otel.example:4318\n", "",
			[]string{"config: tracing.endpoint: must not carry credentials", "repairxctl.yaml:2"}},
		{"query in the tracing endpoint", "tracing:\n  endpoint: https://otel.example:4318/?token=hunter2\n", "",
			[]string{"config: tracing.endpoint: must not have a query or fragment"}},
		{"tracing endpoint without a scheme", "tracing:\n  endpoint: otel.example:4318\n", "",
			[]string{"config: tracing.endpoint:", "is not an http(s) URL"}},
		{"tracing sample ratio above 1", "tracing:\n  sample_ratio: 1.5\n", "",
			[]string{"config: tracing.sample_ratio: must be from 0 to 1, got 1.5"}},
		{"two errors at once", "output: xml\nverbose: true\nquiet: true\n", "",
			[]string{"output:", "quiet and verbose cannot both be set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			if tt.file != "" {
				writeFile(t, dir, "repairxctl.yaml", tt.file)
			}
			if k, v, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(k, v)
			}
			_, err := Load(LoadOptions{})
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load error = %v (%T), want *Errors", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q echoes a secret", err)
			}
		})
	}
}

func TestExplicitConfigMustExist(t *testing.T) {
	isolate(t)
	_, err := Load(LoadOptions{File: "missing.yaml"})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("err = %v, want it to name missing.yaml", err)
	}
}

func TestExampleValidatesAndCoversEveryKey(t *testing.T) {
	dir := isolate(t)
	p := writeFile(t, dir, "example.yaml", string(Example))
	if _, err := Load(LoadOptions{File: p}); err != nil {
		t.Fatalf("example config does not validate: %v", err)
	}
	for _, k := range Keys("") {
		last := k.Name[strings.LastIndexByte(k.Name, '.')+1:]
		if !strings.Contains(string(Example), last+":") {
			t.Errorf("example config does not mention %s", k.Name)
		}
	}
}

func TestSecretRedaction(t *testing.T) {
	dir := isolate(t)
	writeFile(t, dir, "repairxctl.yaml", "database:\n  url: postgres://app:hunter2@db/app\n")
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"fmt %v":   fmt.Sprintf("%v", cfg.Database.URL),
		"fmt %+v":  fmt.Sprintf("%+v", cfg),
		"fmt %#v":  fmt.Sprintf("%#v", cfg.Database),
		"settings": fmt.Sprint(cfg.Settings()),
		"json":     mustJSON(t, cfg.Tree()),
		"struct":   mustJSON(t, cfg.Database),
	} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%s leaks the secret: %s", name, s)
		}
	}
	got, err := cfg.Database.URL.Resolve()
	if err != nil || got != "postgres://app:hunter2@db/app" {
		t.Errorf("Resolve = %q, %v", got, err)
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "s", "from-file\n")
	t.Setenv("REPAIRX_TEST_SECRET", "from-env")
	tests := []struct {
		in, want, wantErr string
	}{
		{"literal", "literal", ""},
		{Secret("file:" + p).String(), "from-file", ""},
		{"env:REPAIRX_TEST_SECRET", "from-env", ""},
		{"env:REPAIRX_TEST_UNSET_SECRET", "", "REPAIRX_TEST_UNSET_SECRET is not set"},
		{"file:", "", "needs a path"},
		{"file:" + filepath.Join(dir, "nope"), "", "no such file"},
	}
	for _, tt := range tests {
		got, err := Secret(tt.in).Resolve()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSecretNeverInDecodeErrors(t *testing.T) {
	dir := isolate(t)
	writeFile(t, dir, "repairxctl.yaml", "database:\n  url: 12345678\n")
	_, err := Load(LoadOptions{})
	if err == nil || strings.Contains(err.Error(), "12345678") {
		t.Fatalf("error must exist and not echo the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "database.url") || !strings.Contains(err.Error(), "repairxctl.yaml:2") {
		t.Errorf("error should name the key and line: %v", err)
	}
}

func TestRedactedPlaceholderRejected(t *testing.T) {
	dir := isolate(t)
	writeFile(t, dir, "repairxctl.yaml", "database:\n  url: <redacted>\n")
	_, err := Load(LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("a <redacted> placeholder must not pass validation: %v", err)
	}
}

func TestMapElementErrorsNameTheirLine(t *testing.T) {
	dir := isolate(t)
	writeFile(t, dir, "repairxctl.yaml", "alerts:\n  required_labels:\n    severity: [critical]\n    team: [a, {b: c}]\n")
	_, err := Load(LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "repairxctl.yaml:4") {
		t.Fatalf("error should point at line 4: %v", err)
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := isolate(t)
	sub := filepath.Join(dir, "etc")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, sub, "config.yaml", "data_dir: state\ndatabase:\n  url: file:db-url\nalerts:\n  policy: policy.yaml\n")
	t.Setenv("REPAIRX_ALERTS_SCRAPE_INTERVAL", "") // keep env out
	cfg, err := Load(LoadOptions{File: p})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(sub, "state") || cfg.Alerts.Policy != filepath.Join(sub, "policy.yaml") || string(cfg.Database.URL) != "file:"+filepath.Join(sub, "db-url") {
		t.Fatalf("paths not relative to the config file: %q %q %q", cfg.DataDir, cfg.Alerts.Policy, cfg.Database.URL)
	}
}

func TestQuietFlagBeatsVerboseEnv(t *testing.T) {
	isolate(t)
	t.Setenv("REPAIRX_VERBOSE", "true")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Bool("quiet", false, "")
	_ = fs.SetAnnotation("quiet", FlagKeyAnnotation, []string{"quiet"})
	if err := fs.Parse([]string{"--quiet"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Quiet || cfg.Verbose {
		t.Fatalf("quiet=%v verbose=%v, want the flag to win", cfg.Quiet, cfg.Verbose)
	}
	os.Unsetenv("REPAIRX_VERBOSE")
	t.Setenv("REPAIRX_VERBOSE", "true")
	t.Setenv("REPAIRX_QUIET", "true")
	if _, err := Load(LoadOptions{}); err == nil {
		t.Fatal("quiet and verbose both from the environment should be an error")
	}
}
