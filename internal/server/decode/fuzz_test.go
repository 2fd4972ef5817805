package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

type fuzzInner struct {
	X string `json:"x"`
	Y []int  `json:"y"`
}

type fuzzTarget struct {
	S string            `json:"s"`
	N int               `json:"n"`
	F float64           `json:"f"`
	B bool              `json:"b"`
	P *fuzzInner        `json:"p"`
	L []fuzzInner       `json:"l"`
	M map[string]string `json:"m"`
	A any               `json:"a"`
}

// countKeys counts object keys in a valid JSON document by its token
// stream, independently of the walker, so a duplicate key that decoding
// silently merged shows up as a difference.
func countKeys(t *testing.T, data []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct{ object, wantKey bool }
	var stack []frame
	n := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
			if top > 0 && stack[top-1].object {
				stack[top-1].wantKey = true
			}
			continue
		}
		if top >= 0 && stack[top].object && stack[top].wantKey {
			n++
			stack[top].wantKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{object: d == '{', wantKey: d == '{'})
			continue
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

// treeKeys counts the keys of every map in a decoded value and reports
// whether any key or string holds a NUL.
func treeKeys(v any) (n int, nul bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c, z := treeKeys(e)
			n += 1 + c
			nul = nul || z || strings.IndexByte(k, 0) >= 0
		}
	case []any:
		for _, e := range v {
			c, z := treeKeys(e)
			n += c
			nul = nul || z
		}
	case string:
		nul = strings.IndexByte(v, 0) >= 0
	}
	return n, nul
}

var refusalsOfValidJSON = []string{
	ReasonDuplicateKey, ReasonNUL, "contains a \\u escape of a lone UTF-16 surrogate",
	"nests more than", "expected ",
}

func FuzzBytes(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"s":"x","n":1,"f":1.5,"b":true,"p":{"x":"y","y":[1,2]},"l":[{"x":"a"}],"m":{"k":"v"},"a":[null,{"k":[1]}]}`,
		`{"s":"a","s":"b"}`,
		`{"s":"a","S":"b"}`,
		`{"s":"\u0000"}`,
		"{\"s\":\"\x00\"}",
		"{\"s\":\"\xff\"}",
		`{"s":"\ud800"}`,
		`{"s":"\ud83d\ude00"}`,
		`{"unknown":1}`,
		`{"p":{"z":1}}`,
		`{"n":"1"}`,
		`{"n":1e400}`,
		`{"a":{"k":1,"k":2}}`,
		`[]`,
		`{} {}`,
		`{"m":{"":""}}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		` {"s":"\\u0000 is text, not NUL"} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st fuzzTarget
		stErr := Bytes(data, &st)
		var tree map[string]any
		treeErr := Bytes(data, &tree)

		for _, err := range []error{stErr, treeErr} {
			if err == nil {
				continue
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Status != http.StatusBadRequest || e.Reason == "" {
				t.Fatalf("error %#v: want an *Error with status 400 and a reason", err)
			}
		}
		if stErr == nil && treeErr != nil {
			t.Fatalf("accepted into a struct but refused into a map: %v", treeErr)
		}
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		if treeErr != nil {
			if json.Valid(data) && utf8.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{' {
				e, _ := errors.AsType[*Error](treeErr)
				explained := false
				for _, r := range refusalsOfValidJSON {
					explained = explained || strings.HasPrefix(e.Reason, r)
				}
				if !explained {
					t.Fatalf("refused a valid JSON object: %v", treeErr)
				}
			}
			return
		}

		if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 || !json.Valid(data) || trimmed[0] != '{' {
			t.Fatalf("accepted a body that is not one valid UTF-8 JSON object without NUL")
		}
		n, nul := treeKeys(tree)
		if nul {
			t.Fatalf("accepted a NUL character")
		}
		if want := countKeys(t, data); n != want {
			t.Fatalf("input has %d keys, decoded value %d: a duplicate was merged", want, n)
		}

		re, err := json.Marshal(tree)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		var tree2 map[string]any
		if err := Bytes(re, &tree2); err != nil {
			t.Fatalf("re-encoded %q refused: %v", re, err)
		}
		if !reflect.DeepEqual(tree, tree2) {
			t.Fatalf("round trip changed the value: %#v != %#v", tree, tree2)
		}

		if stErr != nil {
			return
		}
		re, err = json.Marshal(st)
		if err != nil {
			t.Fatalf("re-encoding struct: %v", err)
		}
		var st2 fuzzTarget
		if err := Bytes(re, &st2); err != nil {
			t.Fatalf("re-encoded struct %q refused: %v", re, err)
		}
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("struct round trip changed the value: %#v != %#v", st, st2)
		}
	})
}
