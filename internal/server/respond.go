package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/repairx/repairxctl/internal/server/decode"
)

// errorBody is every error response: a stable machine-readable code, a
// message for people and the request id to quote to an operator.
type errorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error","code":"internal"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code, RequestID: state(r).id})
}

// writeDecodeError answers a request whose body or fields were refused.
func writeDecodeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *decode.Error
	if errors.As(err, &de) {
		writeJSON(w, de.Status, errorBody{Error: de.Error(), Code: "invalid_request", Field: de.Field, RequestID: state(r).id})
		return
	}
	writeError(w, r, http.StatusBadRequest, "invalid_request", "invalid request")
}
