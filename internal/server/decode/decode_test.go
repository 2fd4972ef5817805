package decode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type address struct {
	Street string `json:"street"`
	Zip    string `json:"zip"`
	Lines  []int  `json:"lines"`
}

type signup struct {
	Email    string            `json:"email"`
	Password string            `json:"password"`
	Age      int               `json:"age"`
	Small    int8              `json:"small"`
	Count    uint              `json:"count"`
	Ratio    float64           `json:"ratio"`
	Admin    bool              `json:"admin"`
	Address  address           `json:"address"`
	Previous *address          `json:"previous"`
	Items    []address         `json:"items"`
	Labels   map[string]string `json:"labels"`
	Extra    any               `json:"extra"`
	Since    time.Time         `json:"since"`
	IP       netip.Addr        `json:"ip"`
	Quoted   int               `json:"quoted,string"`
}

func requireError(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want one")
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	return e
}

func TestBytesRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth)
	tests := []struct {
		name, in      string
		field, reason string
	}{
		{"empty", "", "", "is empty"},
		{"whitespace only", " \r\n\t", "", "is empty"},
		{"array at top level", `[{"email":"a@b.c"}]`, "", "must be a JSON object"},
		{"string at top level", `"x"`, "", "must be a JSON object"},
		{"null at top level", `null`, "", "must be a JSON object"},
		{"trailing garbage", `{"age":1} x`, "", "has data after the JSON object"},
		{"second object", `{"age":1}{"age":2}`, "", "has data after the JSON object"},
		{"truncated", `{"email":"a@b.c"`, "", "ends before the JSON is complete"},
		{"truncated value", `{"email":`, "email", "ends before the JSON is complete"},
		{"trailing comma", `{"age":1,}`, "", "is not valid JSON (syntax error at offset 9)"},
		{"bad literal", `{"admin":tru}`, "admin", "is not valid JSON (syntax error at offset 11)"},
		{"unknown field", `{"emial":"a@b.c"}`, "emial", ReasonUnknownField},
		{"unknown nested field", `{"address":{"zipp":"1"}}`, "address.zipp", ReasonUnknownField},
		{"unknown field in array element", `{"items":[{"zip":"1"},{"zap":"2"}]}`, "items[1].zap", ReasonUnknownField},
		{"unknown field behind pointer", `{"previous":{"nope":1}}`, "previous.nope", ReasonUnknownField},
		{"duplicate key", `{"email":"a@b.c","email":"evil@x.y"}`, "email", ReasonDuplicateKey},
		{"duplicate nested key", `{"address":{"zip":"1","zip":"2"}}`, "address.zip", ReasonDuplicateKey},
		{"duplicate key differing in case", `{"email":"a@b.c","EMAIL":"evil@x.y"}`, "EMAIL", ReasonDuplicateKey + ` (sets the same field as "email")`},
		{"duplicate key in map", `{"labels":{"k":"1","k":"2"}}`, "labels.k", ReasonDuplicateKey},
		{"duplicate key in untyped value", `{"extra":{"k":1,"k":2}}`, "extra.k", ReasonDuplicateKey},
		{"escaped NUL in value", `{"email":"a\u0000@b.c"}`, "email", ReasonNUL},
		{"escaped NUL in nested value", `{"items":[{"street":"x\u0000"}]}`, "items[0].street", ReasonNUL},
		{"escaped NUL in map key", `{"labels":{"a\u0000b":"1"}}`, "labels.a\uFFFDb", ReasonNUL},
		{"escaped NUL in untyped value", `{"extra":["ok","\u0000"]}`, "extra[1]", ReasonNUL},
		{"raw NUL in value", "{\"email\":\"a\x00@b.c\"}", "email", ReasonNUL},
		{"raw NUL between tokens", "{\"age\":1\x00}", "", ReasonNUL},
		{"invalid UTF-8 in value", "{\"email\":\"\xff@b.c\"}", "email", ReasonInvalidUTF8},
		{"overlong UTF-8 in value", "{\"email\":\"\xc0\xaf\"}", "email", ReasonInvalidUTF8},
		{"UTF-16 surrogate encoded in UTF-8", "{\"email\":\"\xed\xa0\x80\"}", "email", ReasonInvalidUTF8},
		{"invalid UTF-8 in key", "{\"lab\xffels\":{}}", "lab\uFFFDels", ReasonInvalidUTF8},
		{"invalid UTF-8 outside strings", "{\"age\":1\xff}", "", ReasonInvalidUTF8},
		{"lone high surrogate escape", `{"email":"\ud800"}`, "email", `contains a \u escape of a lone UTF-16 surrogate`},
		{"lone low surrogate escape", `{"email":"\udc00x"}`, "email", `contains a \u escape of a lone UTF-16 surrogate`},
		{"reversed surrogate pair", `{"email":"\ude00\ud83d"}`, "email", `contains a \u escape of a lone UTF-16 surrogate`},
		{"string for int", `{"age":"42"}`, "age", "expected an integer"},
		{"int for string", `{"email":42}`, "email", "expected a string"},
		{"object for string", `{"email":{"a":1}}`, "email", "expected a string"},
		{"array for string", `{"email":["a"]}`, "email", "expected a string"},
		{"string for bool", `{"admin":"true"}`, "admin", "expected true or false"},
		{"fraction for int", `{"age":1.5}`, "age", "expected an integer that fits in 64 bits"},
		{"overflow int8", `{"small":300}`, "small", "expected an integer that fits in 8 bits"},
		{"negative uint", `{"count":-1}`, "count", "expected a non-negative integer that fits in 64 bits"},
		{"string for float", `{"ratio":"0.5"}`, "ratio", "expected a number"},
		{"string for object", `{"address":"Main St"}`, "address", "expected an object"},
		{"object for array", `{"items":{}}`, "items", "expected an array"},
		{"wrong type in nested field", `{"address":{"zip":12345}}`, "address.zip", "expected a string"},
		{"wrong type in array element", `{"items":[{"zip":"1"},{"zip":2}]}`, "items[1].zip", "expected a string"},
		{"wrong type deep in array", `{"address":{"lines":[1,2,"3"]}}`, "address.lines[2]", "expected an integer"},
		{"wrong type in map value", `{"labels":{"k":1}}`, "labels.k", "expected a string"},
		{"bad time", `{"since":"yesterday"}`, "since", "is not a valid value"},
		{"bad IP", `{"ip":"300.1.1.1"}`, "ip", "is not a valid value"},
		{"number for IP", `{"ip":7}`, "ip", "expected a string"},
		{"object for IP", `{"ip":{"a":1}}`, "ip", "expected a string"},
		{"too deep", `{"extra":` + deep + `}`, "extra" + strings.Repeat(".a", MaxDepth-1), "nests more than 32 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst signup
			e := requireError(t, Bytes([]byte(tt.in), &dst))
			if e.Status != http.StatusBadRequest || e.Field != tt.field || e.Reason != tt.reason {
				t.Errorf("got {%d %q %q}, want {400 %q %q}", e.Status, e.Field, e.Reason, tt.field, tt.reason)
			}
		})
	}
}

func TestBytesAccepts(t *testing.T) {
	in := `{
		"email": "zoë+repairs@example.com", "password": "p\"w\\d \u00e9 \ud83d\ude00",
		"age": 42, "small": -128, "count": 7, "ratio": 0.25, "admin": false,
		"address": {"street": "5th & Main", "zip": "10001", "lines": [1, 2]},
		"previous": null,
		"items": [{"zip": "1"}, {"street": "x"}],
		"labels": {"a": "1", "A": "2"},
		"extra": {"nested": [1, "two", null, true, {"k": "v"}]},
		"since": "2024-05-06T07:08:09Z",
		"ip": "192.0.2.1",
		"quoted": "17"
	}` + "\n"
	var got signup
	if err := Bytes([]byte(in), &got); err != nil {
		t.Fatalf("Bytes: %v", err)
	}
	want := signup{
		Email: "zoë+repairs@example.com", Password: "p\"w\\d é 😀",
		Age: 42, Small: -128, Count: 7, Ratio: 0.25,
		Address: address{Street: "5th & Main", Zip: "10001", Lines: []int{1, 2}},
		Items:   []address{{Zip: "1"}, {Street: "x"}},
		Labels:  map[string]string{"a": "1", "A": "2"},
		Extra:   map[string]any{"nested": []any{1.0, "two", nil, true, map[string]any{"k": "v"}}},
		Since:   time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		IP:      netip.MustParseAddr("192.0.2.1"),
		Quoted:  17,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestBytesDepthLimitIsInclusive(t *testing.T) {
	// The top-level object is depth 1, so MaxDepth objects in all are fine.
	in := strings.Repeat(`{"a":`, MaxDepth-1) + "{}" + strings.Repeat("}", MaxDepth-1)
	var dst map[string]any
	if err := Bytes([]byte(in), &dst); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	in = strings.Repeat(`[`, MaxDepth) + strings.Repeat("]", MaxDepth)
	e := requireError(t, Bytes([]byte(`{"a":`+in+`}`), &dst))
	if e.Reason != "nests more than 32 levels deep" {
		t.Errorf("arrays %d deep inside an object: got %v", MaxDepth, e)
	}
}

func TestBytesRefusesBadTarget(t *testing.T) {
	var s signup
	for _, dst := range []any{nil, s, (*signup)(nil)} {
		e := requireError(t, Bytes([]byte(`{}`), dst))
		if e.Status != http.StatusInternalServerError {
			t.Errorf("dst %T: status %d, want 500", dst, e.Status)
		}
	}
}

// A type with its own UnmarshalJSON whose errors quote the input.
type leaky struct{ v string }

func (l *leaky) UnmarshalJSON(b []byte) error {
	if string(b) != `"ok"` {
		return errors.New("bad leaky value " + string(b))
	}
	l.v = "ok"
	return nil
}

func TestErrorsNeverEchoTheValue(t *testing.T) {
	const secret = "hunter2-SECRET"
	type target struct {
		Password string `json:"password"`
		Count    int    `json:"count"`
		Leaky    leaky  `json:"leaky"`
		Since    time.Time
	}
	for _, in := range []string{
		`{"count":"` + secret + `"}`,
		`{"password":"` + secret + `","password":"` + secret + `"}`,
		`{"password":"` + secret + `\u0000"}`,
		"{\"password\":\"" + secret + "\xff\"}",
		`{"password":"` + secret + `\udc00"}`,
		`{"leaky":"` + secret + `"}`,
		`{"Since":"` + secret + `"}`,
		`{"password":` + secret + `}`,
		`{"password":"x"} ` + secret,
	} {
		var dst target
		e := requireError(t, Bytes([]byte(in), &dst))
		if strings.Contains(e.Error(), "hunter2") || strings.Contains(e.Field, "hunter2") {
			t.Errorf("%q: error %q repeats the value", in, e.Error())
		}
	}
	var dst target
	if err := Bytes([]byte(`{"leaky":"ok"}`), &dst); err != nil || dst.Leaky.v != "ok" {
		t.Errorf(`{"leaky":"ok"}: err %v, value %q`, err, dst.Leaky.v)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{400, "email", "expected a string"}, `field "email": expected a string`},
		{Error{400, "emial", ReasonUnknownField}, `request body: unknown field "emial"`},
		{Error{400, "", "is empty"}, `request body: is empty`},
		{Error{400, "a\x00b", ReasonNUL}, `field "a\x00b": contains a NUL character`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestLongKeysAreCutInErrors(t *testing.T) {
	key := strings.Repeat("k", 10000)
	var dst signup
	e := requireError(t, Bytes([]byte(`{"`+key+`":1}`), &dst))
	if e.Reason != ReasonUnknownField || len(e.Field) > maxFieldLen+3 || !strings.HasSuffix(e.Field, "...") {
		t.Errorf("got field of %d bytes %q…, reason %q", len(e.Field), e.Field[:min(len(e.Field), 20)], e.Reason)
	}
}

func newRequest(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/signup", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestJSONContentType(t *testing.T) {
	tests := []struct {
		contentType string
		ok          bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON; Charset=UTF-8", true},
		{`application/json; charset="utf-8"`, true},
		{"", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
		{"application/json-patch+json", false},
		{"application/jsonp", false},
		{"application/json; charset=latin1", false},
		{"application/json; charset=utf-16", false},
		{"application/json; boundary=x", false},
		{"application/json;;", false},
	}
	for _, tt := range tests {
		var dst signup
		err := JSON(httptest.NewRecorder(), newRequest(`{"age":3}`, tt.contentType), &dst, 1024)
		if tt.ok {
			if err != nil || dst.Age != 3 {
				t.Errorf("Content-Type %q: err %v, age %d; want accepted", tt.contentType, err, dst.Age)
			}
			continue
		}
		if e := requireError(t, err); e.Status != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: status %d, want 415", tt.contentType, e.Status)
		}
	}

	r := newRequest(`{"age":3}`, "application/json")
	r.Header.Add("Content-Type", "text/plain")
	if e := requireError(t, JSON(httptest.NewRecorder(), r, new(signup), 1024)); e.Status != http.StatusUnsupportedMediaType {
		t.Errorf("two Content-Type headers: status %d, want 415", e.Status)
	}
}

func TestJSONContentEncoding(t *testing.T) {
	for enc, ok := range map[string]bool{"identity": true, "gzip": false, "br": false, "deflate": false} {
		r := newRequest(`{"age":3}`, "application/json")
		r.Header.Set("Content-Encoding", enc)
		err := JSON(httptest.NewRecorder(), r, new(signup), 1024)
		if ok && err != nil {
			t.Errorf("Content-Encoding %s: %v", enc, err)
		}
		if !ok {
			if e := requireError(t, err); e.Status != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Encoding %s: status %d, want 415", enc, e.Status)
			}
		}
	}
}

func TestJSONBodyLimit(t *testing.T) {
	body := `{"email":"` + strings.Repeat("a", 100) + `@b.c"}`
	limit := int64(len(body))

	var dst signup
	if err := JSON(httptest.NewRecorder(), newRequest(body, "application/json"), &dst, limit); err != nil {
		t.Fatalf("body of exactly the limit: %v", err)
	}
	e := requireError(t, JSON(httptest.NewRecorder(), newRequest(body, "application/json"), &dst, limit-1))
	if e.Status != http.StatusRequestEntityTooLarge || e.Field != "" {
		t.Errorf("body one byte over: got %+v, want 413", e)
	}
	if want := fmt.Sprintf("request body: is larger than %d bytes", limit-1); e.Error() != want {
		t.Errorf("message %q, want %q", e.Error(), want)
	}

	big := `{"email":"` + strings.Repeat("a", int(DefaultMaxBytes)) + `"}`
	e = requireError(t, JSON(httptest.NewRecorder(), newRequest(big, "application/json"), &dst, 0))
	if e.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("maxBytes 0 with a body over DefaultMaxBytes: status %d, want 413", e.Status)
	}
}

func TestJSONPassesBodyErrorsThrough(t *testing.T) {
	var dst signup
	for body, reason := range map[string]string{
		"":                                  "is empty",
		`{"email":"a@b.c","email":"x@y.z"}`: ReasonDuplicateKey,
		`{"nope":1}`:                        ReasonUnknownField,
	} {
		e := requireError(t, JSON(httptest.NewRecorder(), newRequest(body, "application/json"), &dst, 1024))
		if e.Status != http.StatusBadRequest || e.Reason != reason {
			t.Errorf("body %q: got %+v, want 400 %q", body, e, reason)
		}
	}
	r := newRequest("", "application/json")
	r.Body = nil
	if e := requireError(t, JSON(httptest.NewRecorder(), r, &dst, 1024)); e.Status != http.StatusBadRequest {
		t.Errorf("nil body: status %d, want 400", e.Status)
	}
}

// Field lookup must agree with encoding/json, or the walker would refuse
// keys the decoder accepts (or the reverse, which DisallowUnknownFields
// would still catch, but without the path).
type Base struct {
	ID      string `json:"id"`
	Created string
}

type other struct {
	ID    string // untagged, same depth as Base.ID: loses to nothing, tagged one is deeper
	Shade string
}

type Conflict1 struct{ Dup string }
type Conflict2 struct{ Dup string }

type embedder struct {
	Base
	*other
	Conflict1
	Conflict2
	Name    string `json:"name"`
	Hidden  string `json:"-"`
	Dash    string `json:"-,"`
	private string
	Ünïcode string
	K       string // folds with "K" (Kelvin sign) in encoding/json
	Tagged  string `json:"tag-name!"`
	BadTag  string `json:"bad\"tag"`
}

func TestFieldLookupMatchesEncodingJSON(t *testing.T) {
	keys := []string{
		"id", "ID", "Id", "Created", "created", "Shade", "shade", "Dup", "dup", "name", "Name", "NAME",
		"Hidden", "hidden", "-", "Dash", "private", "Ünïcode", "üNÏCODE", "ünïcode", "K", "k", "\u212a",
		"tag-name!", "Tagged", "BadTag", `bad"tag`, "Base", "other", "Conflict1", "nope", "",
	}
	typ := reflect.TypeFor[embedder]()
	fields := typeFields(typ)
	_ = embedder{private: ""}
	for _, key := range keys {
		body, _ := json.Marshal(map[string]any{key: nil})
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		// Any error but "unknown field" means the key was matched (an
		// embedded pointer to an unexported struct cannot be allocated).
		err := dec.Decode(new(embedder))
		stdKnown := err == nil || !strings.Contains(err.Error(), "unknown field")
		if got := fields.lookup(key) >= 0; got != stdKnown {
			t.Errorf("key %q: lookup says known=%v, encoding/json says %v", key, got, stdKnown)
		}
	}
}

// The walker reports unknown fields with their path; decode's own check is
// the backstop should the walker's copy of encoding/json's field rules
// drift. Run it alone to see that it still names the key.
func TestDecodeBackstopNamesUnknownField(t *testing.T) {
	w, err := newWalker([]byte(`{"address":{"zipp":"1"}}`), new(signup))
	if err != nil {
		t.Fatal(err)
	}
	e := requireError(t, w.decode())
	if e.Status != http.StatusBadRequest || e.Field != "zipp" || e.Reason != ReasonUnknownField {
		t.Errorf("got %+v, want 400 zipp %q", *e, ReasonUnknownField)
	}
}
