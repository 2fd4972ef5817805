package decode

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walker checks a body token by token before encoding/json decodes it,
// tracking the Go type each value will land in so that unknown fields and
// duplicate keys are reported with the path where they occur.
type walker struct {
	data []byte
	dst  any
	root reflect.Type
	dec  *json.Decoder
	path []string // "key" or "[i]" segments
	// target, when positive, asks the walk to record in found the path of
	// the value that ends (or, for an object or array, opens) at that input
	// offset: encoding/json's type errors carry only an offset and a path
	// without array indices.
	target int64
	found  string
}

func newWalker(data []byte, dst any) (*walker, error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, &Error{Status: http.StatusInternalServerError, Reason: fmt.Sprintf("cannot decode into %T", dst)}
	}
	// A raw NUL is never valid JSON, and encoding/json's syntax error for
	// one does not say where it is. Walk a copy with each NUL turned into a
	// space so the walk reaches the string holding it (checkString reads the
	// original bytes) and can name the field; a NUL between tokens is
	// caught after the walk.
	scan := data
	if bytes.IndexByte(data, 0) >= 0 {
		scan = bytes.ReplaceAll(data, []byte{0}, []byte{' '})
	}
	dec := json.NewDecoder(bytes.NewReader(scan))
	dec.UseNumber()
	return &walker{data: data, dst: dst, root: rv.Type().Elem(), dec: dec}, nil
}

func (w *walker) field() string {
	var b strings.Builder
	for i, s := range w.path {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// mark records the current path if offset is the one being looked for.
func (w *walker) mark(offset int64) {
	if w.target > 0 && offset == w.target && w.found == "" {
		w.found = w.field()
	}
}

func (w *walker) push(seg string) { w.path = append(w.path, seg) }
func (w *walker) pop()            { w.path = w.path[:len(w.path)-1] }

// document walks the single top-level object and checks nothing follows it.
func (w *walker) document() error {
	tok, err := w.dec.Token()
	if err != nil {
		return w.tokenError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return badRequest("", "must be a JSON object")
	}
	root := indirectType(w.root)
	if root != nil && implements(root, jsonUnmarshalerType) {
		root = nil
	}
	if err := w.object(root, 1); err != nil {
		return err
	}
	if bytes.IndexByte(w.data, 0) >= 0 {
		return badRequest("", ReasonNUL)
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return badRequest("", "has data after the JSON object")
	}
	return nil
}

// tokenError turns an error from Token into an *Error without repeating
// any of the input (json.SyntaxError messages quote the offending byte).
func (w *walker) tokenError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest(w.field(), "ends before the JSON is complete")
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		off := se.Offset
		if off >= 0 && off < int64(len(w.data)) {
			if r, size := utf8.DecodeRune(w.data[off:]); r == utf8.RuneError && size <= 1 {
				return badRequest(w.field(), ReasonInvalidUTF8)
			}
		}
		return badRequest(w.field(), fmt.Sprintf("is not valid JSON (syntax error at offset %d)", off))
	}
	return badRequest(w.field(), "is not valid JSON")
}

// value reads one value that will be decoded into a t (nil: untyped).
func (w *walker) value(t reflect.Type, depth int) error {
	before := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return w.tokenError(err)
	}
	after := w.dec.InputOffset()
	t = indirectType(t)
	custom := t != nil && implements(t, jsonUnmarshalerType)
	typed := t
	if custom || t != nil && implements(t, textUnmarshalerType) {
		typed = nil // the type parses its own input: check syntax only
	}
	var start int64
	switch tok := tok.(type) {
	case json.Delim:
		start = after - 1
		switch tok {
		case '{':
			err = w.object(typed, depth+1)
		case '[':
			err = w.array(typed, depth+1)
		}
		if err != nil {
			return err
		}
	case string:
		raw := w.data[before:after]
		raw = raw[bytes.IndexByte(raw, '"'):]
		start = after - int64(len(raw))
		if reason := checkString(raw, tok); reason != "" {
			return badRequest(w.field(), reason)
		}
		if !custom && t != nil && implements(t, textUnmarshalerType) {
			if reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(tok)) != nil {
				return badRequest(w.field(), "is not a valid value")
			}
		}
	case nil:
		custom = false // null never reaches UnmarshalJSON of a pointer field
	default:
		start = after - int64(len(bytes.TrimLeft(w.data[before:after], " \t\r\n,:")))
	}
	end := w.dec.InputOffset()
	w.mark(end)
	if custom {
		// Ask the type itself now, so its error (which may quote the value,
		// as time.Time's does) is replaced by one that names the field.
		if reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(w.data[start:end]) != nil {
			return badRequest(w.field(), "is not a valid value")
		}
	}
	return nil
}

// object reads the members of an object whose '{' has been read.
func (w *walker) object(t reflect.Type, depth int) error {
	w.mark(w.dec.InputOffset())
	if depth > MaxDepth {
		return badRequest(w.field(), fmt.Sprintf("nests more than %d levels deep", MaxDepth))
	}
	var fields *structFields
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = typeFields(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	var claimed map[int]string // struct field → the key that set it
	for w.dec.More() {
		before := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err != nil {
			return w.tokenError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return w.tokenError(&json.SyntaxError{Offset: w.dec.InputOffset()})
		}
		raw := w.data[before:w.dec.InputOffset()]
		raw = raw[bytes.IndexByte(raw, '"'):]
		w.push(sanitizeField(key))
		if reason := checkString(raw, key); reason != "" {
			return badRequest(w.field(), reason)
		}
		if seen[key] {
			return badRequest(w.field(), ReasonDuplicateKey)
		}
		seen[key] = true
		child := elem
		if fields != nil {
			i := fields.lookup(key)
			if i < 0 {
				return badRequest(w.field(), ReasonUnknownField)
			}
			if prev, dup := claimed[i]; dup {
				return badRequest(w.field(), fmt.Sprintf("%s (sets the same field as %q)", ReasonDuplicateKey, sanitizeField(prev)))
			}
			if claimed == nil {
				claimed = map[int]string{}
			}
			claimed[i] = key
			f := fields.list[i]
			child = f.typ
			if f.quoted {
				child = nil // ",string": a JSON string holding a scalar
			}
		}
		if err := w.value(child, depth); err != nil {
			return err
		}
		w.pop()
	}
	return w.closing('}')
}

// array reads the elements of an array whose '[' has been read.
func (w *walker) array(t reflect.Type, depth int) error {
	w.mark(w.dec.InputOffset())
	if depth > MaxDepth {
		return badRequest(w.field(), fmt.Sprintf("nests more than %d levels deep", MaxDepth))
	}
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; w.dec.More(); i++ {
		w.push("[" + strconv.Itoa(i) + "]")
		if err := w.value(elem, depth); err != nil {
			return err
		}
		w.pop()
	}
	return w.closing(']')
}

func (w *walker) closing(want json.Delim) error {
	tok, err := w.dec.Token()
	if err != nil {
		return w.tokenError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return w.tokenError(&json.SyntaxError{Offset: w.dec.InputOffset()})
	}
	return nil
}

// checkString returns why a string token (raw: its bytes in the input,
// quotes included; s: its decoded value) is refused, or "".
func checkString(raw []byte, s string) string {
	if !utf8.Valid(raw) {
		return ReasonInvalidUTF8
	}
	if strings.IndexByte(s, 0) >= 0 || bytes.IndexByte(raw, 0) >= 0 {
		return ReasonNUL
	}
	if hasLoneSurrogate(raw) {
		return "contains a \\u escape of a lone UTF-16 surrogate"
	}
	return ""
}

// hasLoneSurrogate reports whether a syntactically valid JSON string
// contains a \uD800-\uDFFF escape that is not half of a surrogate pair.
// encoding/json silently turns those into U+FFFD.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		r := hex4(raw[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return true
			}
			if lo := hex4(raw[i+8 : i+12]); lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// decode runs encoding/json over a body the walker accepted and translates
// its errors. DisallowUnknownFields stays on in case the walker's copy of
// the field rules ever drifts from encoding/json's.
func (w *walker) decode() error {
	dec := json.NewDecoder(bytes.NewReader(w.data))
	dec.DisallowUnknownFields()
	err := dec.Decode(w.dst)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if again, err := newWalker(w.data, w.dst); err == nil && te.Offset > 0 {
			again.target = te.Offset
			_ = again.document() // it succeeded once; only the path is wanted
			if again.found != "" {
				field = again.found
			}
		}
		return badRequest(field, "expected "+jsonKind(te.Type, te.Value))
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		if key, err := strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field ")); err == nil {
			return badRequest(sanitizeField(key), ReasonUnknownField)
		}
	}
	return badRequest("", "could not be decoded")
}

// jsonKind describes, in JSON's terms, what a Go type accepts.
func jsonKind(t reflect.Type, got string) string {
	t = indirectType(t)
	if t == nil {
		return "a different type"
	}
	if implements(t, textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.HasPrefix(got, "number") {
			return fmt.Sprintf("an integer that fits in %d bits", t.Bits())
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if strings.HasPrefix(got, "number") {
			return fmt.Sprintf("a non-negative integer that fits in %d bits", t.Bits())
		}
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string or an array"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a different type"
}

// indirectType strips pointers; nil stays nil.
func indirectType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		return nil
	}
	return t
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}
