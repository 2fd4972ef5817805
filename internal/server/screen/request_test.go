package screen

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequest(t *testing.T) {
	tests := []struct {
		target string
		want   *Finding // nil: passes
	}{
		{"/v1/tickets?page=2&q=cracked+screen", nil},
		{"/v1/tickets/123/notes", nil},
		{"/v1/search?q=O%27Brien&sort=name", nil},
		{"/v1/search?q=a+%3C+b+and+c+%3E+d", nil},
		{"/v1/search?redirect=%2Fhome%3Fx%3D1", nil},
		{"/v1/search?empty=&=novalue&&flag", nil},
		{"/static/..%2f..%2fetc/passwd", &Finding{PathTraversal, "path", "path-dot-dot"}},
		{"/static/%2e%2e/%2e%2e/etc/passwd", &Finding{PathTraversal, "path", "path-dot-dot"}},
		{"/static/%252e%252e%252fsecret", &Finding{PathTraversal, "path", "path-dot-dot"}},
		{"/files/..%5c..%5cwindows", &Finding{PathTraversal, "path", "path-dot-dot"}},
		{"/v1/search?q=%27+OR+1%3D1--", &Finding{SQLInjection, "query.q", "sqli-quote-boolean"}},
		{"/v1/search?q='+OR+1=1--", &Finding{SQLInjection, "query.q", "sqli-quote-boolean"}},
		{"/v1/search?page=1&q=%3Cscript%3E", &Finding{XSS, "query.q", "xss-script-tag"}},
		{"/v1/search?%3Cscript%3E=1", &Finding{XSS, "query", "xss-script-tag"}},
		{"/v1/files?name=..%2F..%2Fetc%2Fpasswd", &Finding{PathTraversal, "query.name", "path-dot-dot"}},
		{"/v1/ping?host=127.0.0.1%3Bcat+%2Fetc%2Fpasswd", &Finding{CommandInjection, "query.host", "cmd-chained"}},
		// A malformed escape makes url.ParseQuery drop the pair; screening
		// still sees it.
		{"/v1/search?q=%zz%3Cscript%3E", &Finding{XSS, "query.q", "xss-script-tag"}},
		{"/v1/search?x=%&q=<svg/onload=alert(1)>", &Finding{XSS, "query.q", "xss-event-handler"}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://api.example"+tt.target, nil)
		got := Request(r)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("%s: got %v, want nothing", tt.target, got)
		case tt.want != nil && (got == nil || *got != *tt.want):
			t.Errorf("%s: got %v, want %v", tt.target, got, tt.want)
		}
	}
}

func TestRequestBoundsQueryKeyInField(t *testing.T) {
	key := strings.Repeat("k", 500) + "%01"
	r := httptest.NewRequest("GET", "/x?"+key+"=%3Cscript%3E", nil)
	f := Request(r)
	if f == nil || f.Category != XSS {
		t.Fatalf("got %v, want xss", f)
	}
	if len(f.Field) > len("query.")+maxFieldLen+3 || !strings.HasSuffix(f.Field, "...") {
		t.Errorf("field of %d bytes: %q", len(f.Field), f.Field)
	}
}

func TestJSONBody(t *testing.T) {
	exempt := map[string]bool{"password": true, "totp_code": true, "backup_codes": true, "notes": false}
	tests := []struct {
		name, body string
		want       *Finding
	}{
		{"clean", `{"name":"O'Brien","email":"o+x@example.com","n":1,"ok":true,"none":null}`, nil},
		{"value", `{"name":"<script>alert(1)</script>"}`, &Finding{XSS, "name", "xss-script-tag"}},
		{"nested value", `{"ticket":{"items":[{"sku":"a"},{"sku":"' OR 1=1--"}]}}`, &Finding{SQLInjection, "ticket.items[1].sku", "sqli-quote-boolean"}},
		{"array of arrays", `{"grid":[["a"],["b","../../etc/passwd"]]}`, &Finding{PathTraversal, "grid[1][1]", "path-dot-dot"}},
		{"key", `{"profile":{"<img src=x onerror=alert(1)>":"x"}}`, &Finding{XSS, "profile.<img src=x onerror=alert(1)>", "xss-event-handler"}},
		{"JSON escapes decoded", `{"q":"\u003cscript\u003e"}`, &Finding{XSS, "q", "xss-script-tag"}},
		{"top-level string", `"; cat /etc/passwd"`, &Finding{CommandInjection, "", "cmd-chained"}},
		{"top-level array", `["ok","$(id)"]`, &Finding{CommandInjection, "[1]", "cmd-substitution"}},
		{"password exempt", `{"email":"a@b.co","password":"' OR 1=1--<script>$(id)../../"}`, nil},
		{"exempt regardless of case", `{"Password":"' OR 1=1--"}`, nil},
		{"exempt at any depth", `{"user":{"password":"' OR 1=1--"}}`, nil},
		{"TOTP code exempt", `{"totp_code":"<svg onload=x>"}`, nil},
		{"exempt array", `{"backup_codes":["'; DROP TABLE users--","$(id)"]}`, nil},
		{"exempt object", `{"password":{"new":"' OR 1=1--","old":"x"}}`, nil},
		{"exempt subtree ends", `{"password":{"a":["x"]},"name":"<script>"}`, &Finding{XSS, "name", "xss-script-tag"}},
		{"false in exempt is not exempt", `{"notes":"<script>"}`, &Finding{XSS, "notes", "xss-script-tag"}},
		{"numbers are not screened", `{"n":1e5,"m":-0.5}`, nil},
		{"invalid JSON after a payload", `{"a":"<script>",`, &Finding{XSS, "a", "xss-script-tag"}},
		{"invalid JSON before a payload", `{"a":x,"b":"<script>"}`, nil},
		{"empty", ``, nil},
		{"second document", `{"a":"x"} {"b":"<script>"}`, &Finding{XSS, "b", "xss-script-tag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JSONBody([]byte(tt.body), exempt)
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("got %v, want nothing", got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJSONBodyBoundsPath(t *testing.T) {
	depth := 1000
	body := strings.Repeat(`{"level":`, depth) + `"<script>"` + strings.Repeat("}", depth)
	f := JSONBody([]byte(body), nil)
	if f == nil || f.Category != XSS {
		t.Fatalf("got %v, want xss", f)
	}
	if len(f.Field) > maxPathLen+3 || !strings.HasPrefix(f.Field, "...") || !strings.HasSuffix(f.Field, ".level.level") {
		t.Errorf("field of %d bytes: %q…", len(f.Field), f.Field[:min(40, len(f.Field))])
	}
}
