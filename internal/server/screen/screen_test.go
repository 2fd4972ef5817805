package screen

import (
	"strings"
	"testing"
)

func TestValueSeesThroughEncodings(t *testing.T) {
	tests := []struct {
		name, in string
		cat      Category
	}{
		{"plain", "<script>alert(1)</script>", XSS},
		{"upper case", "<SCRIPT>ALERT(1)</SCRIPT>", XSS},
		{"percent-encoded", "%3Cscript%3E", XSS},
		{"double percent-encoded", "%253Cscript%253E", XSS},
		{"HTML named entities", "&lt;script&gt;", XSS},
		{"HTML numeric entities without semicolons", "&#60script&#62", XSS},
		{"entity inside percent-encoding", "%26lt;script%26gt;", XSS},
		{"JavaScript \\x escapes", `\x3cscript\x3e`, XSS},
		{"JavaScript \\u{} escapes", `\u{3c}script\u{3e}`, XSS},
		{"fullwidth", "＜ｓｃｒｉｐｔ＞", XSS},
		{"small form variant", "\ufe64script\ufe65", XSS},
		{"NUL inside the tag name", "<scr\x00ipt>", XSS},
		{"zero-width space inside the tag name", "<scr\u200bipt>", XSS},
		{"tab inside the scheme", "java\tscript:alert(1)", XSS},
		{"newline inside the scheme, encoded", "java%0ascript:alert(1)", XSS},
		{"SQL comment for space", "1/**/UNION/**/SELECT/**/1", SQLInjection},
		{"MySQL versioned comment", "1 /*!UNION*/ /*!SELECT*/ 1", SQLInjection},
		{"newline for space", "1\nUNION\nSELECT 1", SQLInjection},
		{"curly apostrophe", "admin\u2019 OR \u20181\u2019=\u20181", SQLInjection},
		{"modifier apostrophe", "admin\u02bc--", SQLInjection},
		{"fullwidth apostrophe", "admin＇--", SQLInjection},
		{"IIS %u encoding", "%u002e%u002e%u002fetc%u002fpasswd", PathTraversal},
		{"overlong UTF-8 slash", "..%c0%afetc", PathTraversal},
		{"overlong UTF-8 dot, three bytes", "%e0%80%ae%e0%80%ae/etc", PathTraversal},
		{"division slash", "..\u2215..\u2215etc", PathTraversal},
		{"one dot leader", "\u2024\u2024/etc", PathTraversal},
		{"NUL between the dots", "..%00/..%00/etc", PathTraversal},
		{"encoded newline before the command", "%0awhoami", CommandInjection},
		{"escaped newline before the command", `\nwhoami`, CommandInjection},
		{"ideographic space", ";\u3000cat\u3000/etc/passwd", CommandInjection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Value("f", tt.in)
			if f == nil || f.Category != tt.cat {
				t.Errorf("Value(%q) = %v, want %s", tt.in, f, tt.cat)
			}
		})
	}
}

func TestValueStopsAfterTwoDecodings(t *testing.T) {
	// Three layers of percent-encoding are more than any application
	// decodes by accident, and decoding without end would make Value's
	// cost depend on the input's depth.
	if f := Value("f", "%25253Cscript%25253E"); f != nil {
		t.Errorf("triple-encoded tag reported %v; the limit is documented as two rounds", f)
	}
	if f := Value("f", "%253Cscript%253E"); f == nil {
		t.Error("double-encoded tag not reported")
	}
}

func TestValueOrdinaryTricky(t *testing.T) {
	// Inputs next to a rule's edge, beyond those in testdata/legit.txt.
	for _, s := range []string{
		"", " ", "'", `"`, "''", "--", "#", ";", "|", "&", "&&", "<", ">", "...", "/", `\`, "%", "%%", "%zz", "&#", "&#x;", `\u`, `\x`, `\u{`,
		"O'Neil -- see notes",
		"The 'on' button",
		"Bring receipt & ID",
		"Cat & dog",
		"ping me; or email",
		"sleep mode; wake",
		"alert (low battery)",
		"alert(battery low)",
		"confirm (yes)",
		"<b>bold</b> and <i>italic</i>",
		"javascript is disabled",
		"x-javascript: header",
	} {
		if f := Value("f", s); f != nil {
			t.Errorf("Value(%q) = %v, want nil", s, f)
		}
	}
}

// TestKnownFalsePositives pins inputs that are ordinary in some context but
// are blocked, so that loosening or tightening a rule shows up here and in
// the package documentation together.
func TestKnownFalsePositives(t *testing.T) {
	for s, rule := range map[string]string{
		"See ../README.md for details":    "path-dot-dot",
		"Run `ls` in the terminal":        "cmd-backtick",
		"Looked at /etc/passwd on my Mac": "path-sensitive-file",
		"Sleep(5) mode":                   "sqli-function",
		"My kid typed <script> in here":   "xss-script-tag",
	} {
		f := Value("f", s)
		if f == nil || f.Rule != rule {
			t.Errorf("Value(%q) = %v, want rule %s", s, f, rule)
		}
	}
}

func TestFindingNamesFieldAndRuleOnly(t *testing.T) {
	const payload = "' OR 1=1-- secret-marker"
	f := Value("comment", payload)
	if f == nil {
		t.Fatal("payload not reported")
	}
	want := Finding{Category: SQLInjection, Field: "comment", Rule: "sqli-quote-boolean"}
	if *f != want {
		t.Errorf("got %+v, want %+v", *f, want)
	}
	if got := f.String(); got != `sql_injection in field "comment" (rule sqli-quote-boolean)` {
		t.Errorf("String() = %q", got)
	}
	if strings.Contains(f.String(), "secret-marker") {
		t.Error("String() repeats the input")
	}
}

func TestCategoryOrder(t *testing.T) {
	// Each names a sensitive file too, but is the attack its category says.
	for s, cat := range map[string]Category{
		"; cat /etc/passwd":                         CommandInjection,
		"' UNION SELECT LOAD_FILE('/etc/passwd')--": SQLInjection,
		"<iframe src=file:///etc/passwd>":           XSS,
		"../../etc/passwd":                          PathTraversal,
	} {
		if f := Value("f", s); f == nil || f.Category != cat {
			t.Errorf("Value(%q) = %v, want %s", s, f, cat)
		}
	}
}

// matchingRules lists every rule that matches s, not just the first.
func matchingRules(s string) []string {
	var ids []string
	for _, v := range variants(s) {
		vs := render(v)
		for i := range rules {
			if rules[i].matches(&vs) {
				ids = append(ids, rules[i].id)
			}
		}
	}
	return ids
}

func TestEveryRuleHasAnAttackThatNeedsIt(t *testing.T) {
	seen := map[string]bool{}
	for i := range rules {
		if seen[rules[i].id] {
			t.Errorf("rule id %s used twice", rules[i].id)
		}
		seen[rules[i].id] = true
	}
	// A rule is needed when it is the only one of its category to match
	// some payload; a rule needed by none is dead weight or untested.
	needed := map[string]bool{}
	// Payloads outside the corpora that single out a rule.
	extra := map[Category][]string{
		SQLInjection:     {"'='", "SELECT/*x*/password/*x*/FROM/**/users", "1 OR 0x50=0x50"},
		CommandInjection: {"<!--#exec cmd=\"ls\" -->", "; nslookup evil.example"},
		PathTraversal:    {"php://filter/resource=index.php"},
	}
	for cat, path := range attackFiles {
		payloads := extra[cat]
		for _, l := range readCorpus(t, path) {
			payloads = append(payloads, l.text)
		}
		for _, p := range payloads {
			ofCat := map[string]bool{}
			for _, id := range matchingRules(p) {
				if ruleCategory(id) == cat {
					ofCat[id] = true
				}
			}
			if len(ofCat) == 1 {
				for id := range ofCat {
					needed[id] = true
				}
			}
		}
	}
	for i := range rules {
		if !needed[rules[i].id] {
			t.Errorf("rule %s is the only match for no payload in testdata/attacks", rules[i].id)
		}
	}
}

func ruleCategory(id string) Category {
	for i := range rules {
		if rules[i].id == id {
			return rules[i].cat
		}
	}
	return ""
}
