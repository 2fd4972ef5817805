package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type sample struct {
	Name  string   `json:"name"`
	Flag  string   `json:"flag"`
	Items []string `json:"items"`
	Count int      `json:"count"`
}

func TestYAMLFollowsJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	v := sample{Name: "a", Flag: "true", Items: []string{}, Count: 2}
	if err := WriteYAML(&buf, v); err != nil {
		t.Fatal(err)
	}
	want := "name: a\nflag: \"true\"\nitems: []\ncount: 2\n"
	if buf.String() != want {
		t.Fatalf("YAML =\n%s\nwant\n%s", buf.String(), want)
	}
	var back map[string]any
	if err := yaml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["flag"] != "true" {
		t.Errorf("string \"true\" came back as %T %v", back["flag"], back["flag"])
	}
}

func TestParseFormat(t *testing.T) {
	if _, err := ParseFormat("ndjson", Table, JSON, YAML); err == nil || !strings.Contains(err.Error(), "table, json, yaml") {
		t.Errorf("ndjson should be refused with the supported list, got %v", err)
	}
	if f, err := ParseFormat("json", Table, JSON); err != nil || f != JSON {
		t.Errorf("ParseFormat(json) = %q, %v", f, err)
	}
}

func TestTablePipedIsTabSeparated(t *testing.T) {
	s, _, out, _ := Test()
	tp := NewTablePrinter(s, "name", "value")
	tp.AddRow("a", "1")
	tp.AddRow("b\x1b[31m", "2")
	if err := tp.Render(out); err != nil {
		t.Fatal(err)
	}
	if want := "a\t1\nb\\x1b[31m\t2\n"; out.String() != want {
		t.Fatalf("piped table = %q, want %q", out.String(), want)
	}
}

func TestTableOnTerminal(t *testing.T) {
	s, _, out, _ := Test()
	s.SetTTY(false, true, true)
	s.DisableColor()
	tp := NewTablePrinter(s, "name", "value")
	tp.AddRow("alpha", "1")
	if err := tp.Render(out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "NAME") || !strings.Contains(got, "alpha") {
		t.Fatalf("terminal table missing header or row:\n%s", got)
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("colour disabled but output has ANSI codes: %q", got)
	}
}

func TestColorRules(t *testing.T) {
	s, _, _, _ := Test()
	if s.ColorEnabled() {
		t.Error("colour on for a non-terminal")
	}
	s.SetTTY(false, true, false)
	if !s.ColorEnabled() {
		t.Error("colour off on a terminal")
	}
	if got := s.Scheme().Red.Render("x"); !strings.Contains(got, "\x1b[") {
		t.Errorf("styled text on a colour terminal has no ANSI codes: %q", got)
	}
	s.DisableColor()
	if s.ColorEnabled() {
		t.Error("colour on after DisableColor")
	}
	if got := s.Scheme().Red.Render("x"); got != "x" {
		t.Errorf("styled text with colour off = %q", got)
	}
}

func TestNoColorEnv(t *testing.T) {
	t.Setenv("NO_COLOR", "yes please") // any non-empty value counts
	if s := System(); !s.colorForbidden {
		t.Error("NO_COLOR with a non-boolean value was ignored")
	}
}

func TestSanitize(t *testing.T) {
	tests := map[string]string{
		"plain O'Brien <3": "plain O'Brien <3",
		"a\x1b[2Jb":        `a\x1b[2Jb`,
		"line\nbreak\r":    `line\nbreak\r`,
		"c1\u009bcsi":      `c1\x9bcsi`,
		"bidi\u202egnp":    `bidi\u202egnp`,
		"ünïcødé ✓":        "ünïcødé ✓",
	}
	for in, want := range tests {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s, _, _, _ := Test()
	if got := s.Time(now.Add(-3*time.Minute), now); got != "2026-11-23T11:57:00Z" {
		t.Errorf("piped time = %q", got)
	}
	s.SetTTY(false, true, false)
	if got := s.Time(now.Add(-3*time.Minute), now); got != "3 minutes ago" {
		t.Errorf("terminal time = %q", got)
	}
	if got := Relative(now.Add(-time.Hour), now); got != "1 hour ago" {
		t.Errorf("Relative = %q", got)
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	s, _, _, errOut := Test()
	p := NewProgress(s, "files", 10, true)
	p.Add(5)
	p.Done()
	if errOut.Len() != 0 {
		t.Fatalf("progress drew on a non-terminal: %q", errOut.String())
	}

	s.SetTTY(false, false, true)
	now := time.Unix(0, 0)
	p = NewProgress(s, "files", 10, true)
	p.now = func() time.Time { return now }
	p.Add(5) // first draw
	p.Add(1) // within 100ms: no redraw
	now = now.Add(150 * time.Millisecond)
	p.Add(1) // redraw
	if n := strings.Count(errOut.String(), "\r"); n != 2 {
		t.Errorf("drew %d times, want 2 (rate limited): %q", n, errOut.String())
	}
	if !strings.Contains(errOut.String(), "70%") {
		t.Errorf("last draw should show 70%%: %q", errOut.String())
	}
	p.Done()
	if !strings.HasSuffix(errOut.String(), "\r\x1b[2K") {
		t.Error("Done did not clear the line")
	}

	errOut.Reset()
	p = NewProgress(s, "files", 10, false) // JSON output: no bar even on a terminal
	p.Add(3)
	if errOut.Len() != 0 {
		t.Error("progress drew while output is machine-readable")
	}
}

func TestSuccessf(t *testing.T) {
	s, _, out, errOut := Test()
	s.Successf("wrote %s", "evil\x1b[2J.txt")
	if want := "✓ wrote evil\\x1b[2J.txt\n"; errOut.String() != want {
		t.Errorf("Successf wrote %q to stderr, want %q", errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("Successf wrote %q to stdout", out.String())
	}
	s, _, _, errOut = Test()
	s.SetTTY(false, false, true)
	s.Successf("done")
	if !strings.Contains(errOut.String(), "\x1b[") || !strings.HasSuffix(errOut.String(), " done\n") {
		t.Errorf("Successf on a colour terminal = %q, want a coloured tick", errOut.String())
	}
}
