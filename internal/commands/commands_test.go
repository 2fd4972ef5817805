package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
	"github.com/repairx/repairxctl/internal/version"
)

// isolate keeps the developer's config and REPAIRX_* environment out.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "REPAIRX_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Chdir(dir)
	return dir
}

type run struct {
	code        int
	out, errOut string
}

func runCmd(t *testing.T, tty bool, line string) run {
	t.Helper()
	ios, _, out, errOut := ui.Test()
	if tty {
		ios.SetTTY(false, true, true)
	}
	f := NewFactory(ios)
	f.Build = version.Info{Version: "1.2.3", Commit: "abc123", Date: "2026-11-23T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	code := Run(context.Background(), strings.Fields(line), f)
	return run{code, out.String(), errOut.String()}
}

func TestVersion(t *testing.T) {
	isolate(t)
	r := runCmd(t, false, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "repairxctl 1.2.3\ncommit:  abc123\n") {
		t.Fatalf("version = %d %q", r.code, r.out)
	}
	r = runCmd(t, false, "version -o json")
	var info version.Info
	if err := json.Unmarshal([]byte(r.out), &info); err != nil || info.Version != "1.2.3" || info.GoVersion != "go1.26.8" {
		t.Fatalf("version -o json = %q (%v)", r.out, err)
	}
	r = runCmd(t, false, "version -o yaml")
	if !strings.Contains(r.out, "version: 1.2.3\n") || !strings.Contains(r.out, "go_version: go1.26.8\n") {
		t.Fatalf("version -o yaml = %q", r.out)
	}
}

func TestConfigShowTerminalVsPiped(t *testing.T) {
	isolate(t)
	piped := runCmd(t, false, "config show")
	if piped.code != 0 || strings.Contains(piped.out, "KEY") || !strings.Contains(piped.out, "output\ttable\tdefault\n") {
		t.Fatalf("piped config show = %d %q", piped.code, piped.out)
	}
	term := runCmd(t, true, "config show --no-color")
	if term.code != 0 || !strings.Contains(term.out, "KEY") || !strings.Contains(term.out, "SOURCE") || strings.Contains(term.out, "\t") {
		t.Fatalf("terminal config show = %d %q", term.code, term.out)
	}
	if strings.Contains(term.out, "\x1b[") {
		t.Errorf("--no-color output has ANSI codes")
	}
}

func TestAlertsValidateFlags(t *testing.T) {
	tests := []struct {
		args     string
		wantCode int
		check    func(*testing.T, *AlertsValidateOptions)
	}{
		{"", exitcode.Usage, nil},
		{"a.yml", 0, func(t *testing.T, o *AlertsValidateOptions) {
			if len(o.Paths) != 1 || o.Paths[0] != "a.yml" || o.Strict || o.Format != "text" {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{"--strict --format github a.yml dir/", 0, func(t *testing.T, o *AlertsValidateOptions) {
			if !o.Strict || o.Format != "github" || strings.Join(o.Paths, ",") != "a.yml,dir/" {
				t.Errorf("parsed: %+v", o)
			}
		}},
		{"--check for=off --check rate-range=error x", 0, func(t *testing.T, o *AlertsValidateOptions) {
			if strings.Join(o.Checks, ",") != "for=off,rate-range=error" {
				t.Errorf("checks: %v", o.Checks)
			}
		}},
		{"--format sarif x", exitcode.Usage, nil},
		{"--kind prometheus x", exitcode.Usage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := ui.Test()
			f := NewFactory(ios)
			var got *AlertsValidateOptions
			cmd := newAlertsValidateCmd(f, func(o *AlertsValidateOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if code := exitcode.Code(err); code != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d", code, err, tt.wantCode)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestGitHubEscaping(t *testing.T) {
	if got := ghData("50% of\nrequests"); got != "50%25 of%0Arequests" {
		t.Errorf("ghData = %q", got)
	}
	if got := ghProperty("a,b:c"); got != "a%2Cb%3Ac" {
		t.Errorf("ghProperty = %q", got)
	}
}

func TestInterruptedIs130(t *testing.T) {
	isolate(t)
	if err := os.WriteFile("r.yml", []byte("groups: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if SIGINT arrived before the work started
	ios, _, _, errOut := ui.Test()
	if code := Run(ctx, []string{"alerts", "validate", "r.yml"}, NewFactory(ios)); code != exitcode.Interrupted {
		t.Fatalf("exit code %d, want %d (stderr %q)", code, exitcode.Interrupted, errOut.String())
	}
}

func TestErrorColour(t *testing.T) {
	isolate(t)
	ios, _, _, errOut := ui.Test()
	ios.SetTTY(false, true, true)
	Run(context.Background(), []string{"frobnicate"}, NewFactory(ios))
	if !strings.Contains(errOut.String(), "\x1b[") {
		t.Errorf("error on a colour terminal is not coloured: %q", errOut.String())
	}
	ios, _, _, errOut = ui.Test()
	ios.SetTTY(false, true, true)
	Run(context.Background(), []string{"--no-color", "-o", "xml", "version"}, NewFactory(ios))
	if strings.Contains(errOut.String(), "\x1b[") || !strings.Contains(errOut.String(), "Error: ") {
		t.Errorf("--no-color error has ANSI codes or no Error line: %q", errOut.String())
	}
}

func TestRawFlag(t *testing.T) {
	tests := []struct {
		args  []string
		name  string
		short string
		want  string
		found bool
	}{
		{[]string{"-o", "json", "x"}, "output", "o", "json", true},
		{[]string{"-ojson"}, "output", "o", "json", true},
		{[]string{"--output=yaml"}, "output", "o", "yaml", true},
		{[]string{"--output", "yaml"}, "output", "o", "yaml", true},
		{[]string{"--", "-o", "json"}, "output", "o", "", false},
		{[]string{"--no-color"}, "no-color", "", "true", true},
		{[]string{"version"}, "output", "o", "", false},
	}
	for _, tt := range tests {
		got, found := rawFlag(tt.args, tt.name, tt.short)
		if got != tt.want || found != tt.found {
			t.Errorf("rawFlag(%q, %s) = %q, %v; want %q, %v", tt.args, tt.name, got, found, tt.want, tt.found)
		}
	}
}
