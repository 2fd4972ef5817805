// Package decode reads JSON request bodies strictly: one UTF-8 JSON object,
// no unknown fields, no duplicate keys, no NUL characters, no trailing data,
// and errors that name the offending field without ever repeating its value.
//
// encoding/json on its own accepts all of these (it keeps the last of two
// duplicate keys, replaces invalid UTF-8 with U+FFFD, matches field names
// case-insensitively, and ignores unknown fields), which lets two parsers of
// the same body disagree about what it says. This package walks the token
// stream first, then decodes.
package decode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBytes is the body limit JSON applies when it is given a limit of
// zero or less.
const DefaultMaxBytes int64 = 1 << 20

// MaxDepth is how deeply objects and arrays may nest in a request body.
const MaxDepth = 32

// Reasons used by more than one check, exported so handlers and tests can
// compare against them instead of copying strings.
const (
	ReasonUnknownField = "unknown field"
	ReasonDuplicateKey = "duplicate key"
	ReasonNUL          = "contains a NUL character"
	ReasonInvalidUTF8  = "is not valid UTF-8"
)

// maxFieldLen bounds how much of a client-chosen key an Error carries, so a
// megabyte-long key is not reflected back in the response.
const maxFieldLen = 64

// Error is a request the server refuses, with the HTTP status to answer with.
// Field is the dotted path of the offending field ("address.zip",
// "items[2].sku"), empty when the problem is the body as a whole. Neither
// Field nor Reason ever contains the offending value.
type Error struct {
	Status int
	Field  string
	Reason string
}

// Error returns a message such as `field "email": expected a string`.
func (e *Error) Error() string {
	switch {
	case e.Field == "":
		return "request body: " + e.Reason
	case e.Reason == ReasonUnknownField:
		return fmt.Sprintf("request body: unknown field %q", e.Field)
	default:
		return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
	}
}

func badRequest(field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Field: field, Reason: reason}
}

// JSON decodes the body of r into dst, which must be a non-nil pointer
// (normally to a struct). It reads at most maxBytes (DefaultMaxBytes when
// maxBytes <= 0) and answers 415 for a Content-Type other than
// application/json (charset=utf-8 is the only parameter allowed) or a
// Content-Encoding other than identity, 413 for a body over the limit and 400
// for everything Bytes refuses. Every error it returns is an *Error. dst may
// be partly written when an error is returned; discard it.
func JSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if err := checkContentType(r.Header); err != nil {
		return err
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if r.Body == nil {
		return badRequest("", "is empty")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &Error{
				Status: http.StatusRequestEntityTooLarge,
				Reason: fmt.Sprintf("is larger than %d bytes", maxBytes),
			}
		}
		return badRequest("", "could not be read")
	}
	return Bytes(data, dst)
}

func checkContentType(h http.Header) error {
	unsupported := func(reason string) error {
		return &Error{Status: http.StatusUnsupportedMediaType, Reason: reason}
	}
	if enc := h.Values("Content-Encoding"); len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(strings.TrimSpace(enc[0]), "identity") {
		return unsupported("Content-Encoding is not supported; send the body uncompressed")
	}
	const want = "Content-Type must be application/json"
	cts := h.Values("Content-Type")
	if len(cts) != 1 {
		return unsupported(want)
	}
	mediaType, params, err := mime.ParseMediaType(cts[0])
	if err != nil || mediaType != "application/json" {
		return unsupported(want)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported(want + " with no parameter other than charset=utf-8")
		}
	}
	return nil
}

// Bytes applies the checks JSON applies to a body already in memory: data
// must be one JSON object, valid UTF-8 throughout, with no NUL character or
// lone UTF-16 surrogate escape in any key or string, no key twice in one
// object (keys that encoding/json would fold onto the same struct field count
// as the same key), no key that matches no field of dst, values of the types
// dst declares, nesting at most MaxDepth deep, and nothing but whitespace
// after the object. A value whose type has its own UnmarshalJSON or
// UnmarshalText is parsed by that method twice: once alone, so that its
// error (which may quote the value) is replaced by one naming the field.
// Every error it returns is an *Error.
func Bytes(data []byte, dst any) error {
	if isBlank(data) {
		return badRequest("", "is empty")
	}
	w, err := newWalker(data, dst)
	if err != nil {
		return err
	}
	if err := w.document(); err != nil {
		return err
	}
	// Invalid UTF-8 outside a string is already a syntax error; this is the
	// belt to the walker's braces.
	if !utf8.Valid(data) {
		return badRequest("", ReasonInvalidUTF8)
	}
	return w.decode()
}

// isBlank reports whether data holds nothing but JSON whitespace.
func isBlank(data []byte) bool {
	return len(bytes.Trim(data, " \t\r\n")) == 0
}

// sanitizeField makes a client-chosen key safe to carry in an error: control
// characters and invalid UTF-8 become U+FFFD and it is cut to maxFieldLen
// bytes.
func sanitizeField(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxFieldLen {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > maxFieldLen {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
