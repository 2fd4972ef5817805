package screen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusLine is one input from a testdata corpus file.
type corpusLine struct {
	pos  string // file:line
	text string
}

// readCorpus reads a corpus file: one input per line; lines starting with
// "## " and blank lines are skipped, everything else (leading spaces
// included) is the input.
func readCorpus(t *testing.T, path string) []corpusLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []corpusLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if text == "" || strings.HasPrefix(text, "## ") {
			continue
		}
		lines = append(lines, corpusLine{pos: fmt.Sprintf("%s:%d", filepath.Base(path), n), text: text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// attackFiles maps each category to its corpus.
var attackFiles = map[Category]string{
	SQLInjection:     "testdata/attacks/sql_injection.txt",
	XSS:              "testdata/attacks/xss.txt",
	CommandInjection: "testdata/attacks/command_injection.txt",
	PathTraversal:    "testdata/attacks/path_traversal.txt",
}

const (
	minAttackLines = 40
	minLegitLines  = 80
)

// screener is one way input reaches the screening layer.
type screener struct {
	name string
	// screen returns the finding for text and the field it should name.
	screen func(text string) (f *Finding, wantField string)
}

var screeners = []screener{
	{"Value", func(s string) (*Finding, string) { return Value("note", s), "note" }},
	{"JSONBody", func(s string) (*Finding, string) {
		body, err := json.Marshal(map[string]any{"ticket": map[string]any{"notes": []string{"first", s}}})
		if err != nil {
			panic(err)
		}
		return JSONBody(body, map[string]bool{"password": true}), "ticket.notes[1]"
	}},
	{"Request", func(s string) (*Finding, string) {
		r := httptest.NewRequest("GET", "/v1/tickets?page=2&q="+url.QueryEscape(s), nil)
		return Request(r), "query.q"
	}},
}

func TestAttackCorpus(t *testing.T) {
	for _, sc := range screeners {
		t.Run(sc.name, func(t *testing.T) {
			for cat, path := range attackFiles {
				lines := readCorpus(t, path)
				if len(lines) < minAttackLines {
					t.Errorf("%s has %d payloads, want at least %d", path, len(lines), minAttackLines)
				}
				for _, l := range lines {
					f, field := sc.screen(l.text)
					switch {
					case f == nil:
						t.Errorf("%s: %q passed screening, want %s", l.pos, l.text, cat)
					case f.Category != cat || f.Field != field:
						t.Errorf("%s: %q reported as %s in %q (rule %s), want %s in %q", l.pos, l.text, f.Category, f.Field, f.Rule, cat, field)
					}
				}
			}
		})
	}
}

func TestLegitCorpus(t *testing.T) {
	lines := readCorpus(t, "testdata/legit.txt")
	if len(lines) < minLegitLines {
		t.Errorf("legit.txt has %d lines, want at least %d", len(lines), minLegitLines)
	}
	for _, sc := range screeners {
		t.Run(sc.name, func(t *testing.T) {
			for _, l := range lines {
				if f, _ := sc.screen(l.text); f != nil {
					t.Errorf("%s: %q blocked as %s (rule %s)", l.pos, l.text, f.Category, f.Rule)
				}
			}
		})
	}
}

// TestCorpusRates logs the detection and false-positive rates over the
// corpora, per category, so a change to the rules shows its cost in the
// test log. TestAttackCorpus and TestLegitCorpus are what fail.
func TestCorpusRates(t *testing.T) {
	totalCaught, total := 0, 0
	for _, cat := range categoryOrder {
		lines := readCorpus(t, attackFiles[cat])
		caught := 0
		for _, l := range lines {
			if f := Value("note", l.text); f != nil && f.Category == cat {
				caught++
			}
		}
		t.Logf("detection %-17s %3d/%3d (%.1f%%)", cat, caught, len(lines), 100*float64(caught)/float64(len(lines)))
		totalCaught += caught
		total += len(lines)
	}
	legit := readCorpus(t, "testdata/legit.txt")
	blocked := 0
	for _, l := range legit {
		if Value("note", l.text) != nil {
			blocked++
		}
	}
	t.Logf("screen corpus: detection %d/%d (%.1f%%), false positives %d/%d (%.1f%%)",
		totalCaught, total, 100*float64(totalCaught)/float64(total), blocked, len(legit), 100*float64(blocked)/float64(len(legit)))
	if total == 0 || len(legit) == 0 {
		t.Fatal("empty corpus")
	}
}
