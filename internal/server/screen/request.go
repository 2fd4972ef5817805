package screen

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Request screens the parts of r that every route sees: the URL path for
// traversal, and each query parameter's name and value for every category.
// Findings name "path", "query" (a parameter name) or "query.NAME" (its
// value). Bodies are screened by JSONBody once the handler knows which
// fields are exempt.
func Request(r *http.Request) *Finding {
	if r.URL == nil {
		return nil
	}
	if f := screenPath(r.URL); f != nil {
		return f
	}
	return screenQuery(r.URL.RawQuery)
}

// screenPath applies the traversal rules to the path as sent and as
// decoded. ServeMux cleans "/a/../b" before routing, but a handler that
// reads r.URL.Path or a wildcard still sees "..%2f" decoded.
func screenPath(u *url.URL) *Finding {
	var vs []views
	for _, p := range []string{u.EscapedPath(), u.Path} {
		for _, v := range variants(p) {
			vs = append(vs, render(v))
		}
	}
	for i := range rules {
		if rules[i].cat != PathTraversal {
			continue
		}
		for j := range vs {
			if rules[i].matches(&vs[j]) {
				return &Finding{Category: PathTraversal, Field: "path", Rule: rules[i].id}
			}
		}
	}
	return nil
}

// screenQuery splits the raw query itself rather than using url.ParseQuery,
// which drops a whole pair when its escaping is malformed: a payload
// must not escape screening by carrying a bad %-escape.
func screenQuery(raw string) *Finding {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, value = queryUnescape(key), queryUnescape(value)
		if f := Value("query", key); f != nil {
			return f
		}
		if f := Value("query."+sanitizeField(key), value); f != nil {
			return f
		}
	}
	return nil
}

// queryUnescape decodes form encoding; on a malformed escape it keeps the
// raw text, which Value decodes leniently.
func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return strings.ReplaceAll(s, "+", " ")
}

// JSONBody screens every key and string value of a JSON body, naming each
// by its path ("items[2].note"). A value under a key in exempt (compared
// without regard to case, at any depth, including whole objects and arrays
// beneath it) is not screened: passwords, TOTP and backup codes may contain
// anything. Numbers, booleans and null are not screened. A body that is not
// valid JSON is screened up to the point where it stops being JSON; the
// decoder refuses it anyway.
func JSONBody(body []byte, exempt map[string]bool) *Finding {
	skip := make(map[string]bool, len(exempt))
	for k, v := range exempt {
		if v {
			skip[strings.ToLower(k)] = true
		}
	}
	type frame struct {
		object      bool
		wantKey     bool // object: the next token is a key
		next        int  // array: index of the next element
		exempt      bool // the whole container is exempt
		valueExempt bool // object: the value after the current key is exempt
	}
	var stack []frame
	var segs []string // path to the value being read
	field := func() string {
		var b strings.Builder
		for i, s := range segs {
			if i > 0 && !strings.HasPrefix(s, "[") {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
		return keepTail(b.String(), maxPathLen)
	}
	// done closes the value just read in the container on top of stack.
	done := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		segs = segs[:len(segs)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.next++
		}
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if top != nil && top.object && top.wantKey {
			key, _ := tok.(string)
			top.wantKey = false
			segs = append(segs, sanitizeField(key))
			top.valueExempt = top.exempt || skip[strings.ToLower(key)]
			if !top.exempt {
				if f := Value("", key); f != nil {
					f.Field = field()
					return f
				}
			}
			continue
		}
		exempt := false
		if top != nil {
			if top.object {
				exempt = top.valueExempt
			} else {
				exempt = top.exempt
				segs = append(segs, "["+strconv.Itoa(top.next)+"]")
			}
		}
		switch tok := tok.(type) {
		case json.Delim:
			stack = append(stack, frame{object: tok == '{', wantKey: tok == '{', exempt: exempt})
			continue
		case string:
			if !exempt {
				// The path is built only for a finding: building it for
				// every string would be quadratic in the nesting depth.
				if f := Value("", tok); f != nil {
					f.Field = field()
					return f
				}
			}
		}
		done()
	}
}

// maxPathLen bounds Finding.Field for a JSON path; deeper paths keep their
// end, which names the field, behind "...".
const maxPathLen = 256

// keepTail returns s, or "..." and the last n bytes or fewer of s, cut at a
// rune boundary.
func keepTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "..." + s[i:]
}
