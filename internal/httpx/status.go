// Package httpx holds small net/http pieces that several middlewares share.
package httpx

import "net/http"

// StatusWriter records the final status code a handler answers with, and
// keeps http.ResponseController working through Unwrap.
type StatusWriter struct {
	http.ResponseWriter
	// Code is the final status written; Wrote says whether one was (a
	// handler that writes nothing answers 200).
	Code  int
	Wrote bool
}

// WriteHeader records code unless it is informational (1xx): the final
// status comes later.
func (w *StatusWriter) WriteHeader(code int) {
	if !w.Wrote && code >= 200 {
		w.Code, w.Wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if !w.Wrote {
		w.Code, w.Wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status is the status the client gets: Code, or 200 when nothing was
// written.
func (w *StatusWriter) Status() int {
	if !w.Wrote {
		return http.StatusOK
	}
	return w.Code
}
