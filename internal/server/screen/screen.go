// Package screen refuses request input that carries an obvious attack
// payload: SQL injection, cross-site scripting, OS command injection and
// path traversal, including the usual encodings used to slip past filters.
//
// Screening is a second line of defence, for logging and for turning
// scanners away early. It is not what makes the server safe: queries are
// parameterised, output is escaped and nothing reaches a shell or the file
// system from a request. The rules favour letting ordinary text through
// (O'Brien, "a < b", "screen cracked; battery drains", "Bring receipt & ID")
// over catching every payload. testdata/attacks and testdata/legit.txt pin
// both sides; each rule must be the only match for at least one payload.
//
// Known gaps, by design or not yet covered: fragments that only mean
// something appended to a numeric SQL context (" ORDER BY 1", " OR x=y"),
// quote-only probes ("'", "'-'"), a bare command with no shell separator
// ("ls", "sleep 10", "curl URL"), "& id" (kept out for "receipt & ID"),
// shell obfuscation such as l$@s, CSS escapes (\0075rl), US-ASCII
// 7-bit tricks, HTML injection without script (<h1>), JavaScript built
// from strings (window['al'+'ert']), template expressions ({{7*7}}), three
// or more layers of encoding, UNC paths, and sensitive files other than
// the classic ones (/etc/passwd, win.ini, /proc/self, ~/.ssh). Known false
// positives: Unix and Windows paths with ../ in prose, shell commands in
// Markdown code spans (`ls`), "sleep(5)", a literal "<script>".
package screen

import (
	"fmt"
	"unicode/utf8"
)

// Category is the kind of attack a Finding reports.
type Category string

// The categories Value reports.
const (
	SQLInjection     Category = "sql_injection"
	XSS              Category = "xss"
	CommandInjection Category = "command_injection"
	PathTraversal    Category = "path_traversal"
)

// categoryOrder is the order in which categories are tried, so that a
// payload matching two ("; cat /etc/passwd" names a sensitive file too) is
// reported as the attack it is.
var categoryOrder = []Category{SQLInjection, XSS, CommandInjection, PathTraversal}

// Finding is one input that looks like an attack. It names the field and
// the rule that matched, never the input itself, which may hold a secret
// or a payload meant for whoever reads the logs.
type Finding struct {
	Category Category
	Field    string
	Rule     string
}

// String describes the finding for a log line or an error message.
func (f *Finding) String() string {
	return fmt.Sprintf("%s in field %q (rule %s)", f.Category, f.Field, f.Rule)
}

// maxFieldLen bounds the client-chosen part of Finding.Field (JSON keys,
// query parameter names).
const maxFieldLen = 64

// Value screens one string. It checks s as given and after one and two
// rounds of decoding (percent-encoding, HTML character references,
// JavaScript escapes), each folded to lower case with fullwidth and other
// look-alike characters mapped to ASCII. It returns nil when nothing
// matched.
func Value(field, s string) *Finding {
	if s == "" {
		return nil
	}
	vars := variants(s)
	rendered := make([]views, len(vars))
	for i, v := range vars {
		rendered[i] = render(v)
	}
	for _, cat := range categoryOrder {
		for i := range rules {
			r := &rules[i]
			if r.cat != cat {
				continue
			}
			for j := range rendered {
				if r.matches(&rendered[j]) {
					return &Finding{Category: cat, Field: field, Rule: r.id}
				}
			}
		}
	}
	return nil
}

// sanitizeField makes a client-chosen name safe to log: control
// characters and invalid UTF-8 become U+FFFD and it is cut to maxFieldLen
// bytes.
func sanitizeField(s string) string {
	var b []byte
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = utf8.RuneError
		}
		if len(b)+utf8.RuneLen(r) > maxFieldLen {
			return string(b) + "..."
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}
