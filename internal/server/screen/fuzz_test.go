package screen

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"
)

func FuzzValue(f *testing.F) {
	for _, s := range []string{
		"", "O'Brien", "a < b and c > d", "' OR 1=1--", "<img src=x onerror=alert(1)>", "; cat /etc/passwd",
		"..%2f..%2fetc%2fpasswd", "%253Cscript%253E", "&#x3c;script&#x3e;", "＜ｓｃｒｉｐｔ＞", "%c0%ae%c0%ae/", `\u003c\x3c\u{3c}`,
		"1/**/UNION/**/SELECT", "`id`", "$(id)", "\xff\xfe%", "%u", "&#", "\\", "/*!", "..\x00/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Value("f", s)
		again := Value("f", s)
		if (got == nil) != (again == nil) || got != nil && *got != *again {
			t.Fatalf("Value is not deterministic: %v then %v", got, again)
		}
		if got != nil {
			if got.Field != "f" || ruleCategory(got.Rule) != got.Category || got.Category == "" {
				t.Fatalf("malformed finding %+v", *got)
			}
		}

		// The same string must get the same verdict however it arrives.
		if utf8.ValidString(s) {
			body, err := json.Marshal(map[string]string{"f": s})
			if err != nil {
				t.Fatal(err)
			}
			viaJSON := JSONBody(body, nil)
			if (got == nil) != (viaJSON == nil) || got != nil && *got != *viaJSON {
				t.Fatalf("Value says %v, JSONBody says %v", got, viaJSON)
			}
		}
		viaQuery := Request(httptest.NewRequest("GET", "/x?q="+url.QueryEscape(s), nil))
		want := Value("query.q", s)
		if (want == nil) != (viaQuery == nil) || want != nil && *want != *viaQuery {
			t.Fatalf("Value says %v, Request says %v", want, viaQuery)
		}
	})
}

// typical is a 200-byte customer note: punctuation, an apostrophe, a
// semicolon, an ampersand, a price range, non-ASCII letters.
const typical = "Hi, my phone's screen cracked when I dropped it on the kitchen floor; the battery drains fast too. " +
	"Can you replace both by Friday? Budget $150-$200 & I can drop it off at 5th & Main. Thanks, Zoë"

func BenchmarkValue(b *testing.B) {
	for _, bm := range []struct{ name, s string }{
		{"typical", typical},
		{"encoded", "Search%20for%20%22screen%22%20%26%20%22battery%22%3A%20see%20https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc%26d%3De " + typical[:100]},
		{"attack", "' UNION SELECT username, password FROM users-- " + typical[:150]},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.s)))
			b.ReportAllocs()
			for b.Loop() {
				Value("note", bm.s)
			}
		})
	}
}
