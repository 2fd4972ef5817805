package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatusWriter(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter)
		want      int
		wantWrote bool
	}{
		{"nothing written", func(http.ResponseWriter) {}, 200, false},
		{"body only", func(w http.ResponseWriter) { w.Write([]byte("x")) }, 200, true},
		{"explicit status", func(w http.ResponseWriter) { w.WriteHeader(404) }, 404, true},
		{"first status wins", func(w http.ResponseWriter) { w.WriteHeader(201); w.WriteHeader(500) }, 201, true},
		{"early hints, then final", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(204) }, 204, true},
		{"early hints, then body", func(w http.ResponseWriter) { w.WriteHeader(103); w.Write([]byte("x")) }, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := &StatusWriter{ResponseWriter: httptest.NewRecorder()}
			tt.handler(sw)
			if sw.Status() != tt.want || sw.Wrote != tt.wantWrote {
				t.Errorf("Status() = %d, Wrote = %v; want %d, %v", sw.Status(), sw.Wrote, tt.want, tt.wantWrote)
			}
		})
	}
}

func TestStatusWriterUnwraps(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &StatusWriter{ResponseWriter: rec}
	if err := http.NewResponseController(sw).Flush(); err != nil {
		t.Fatalf("Flush through the wrapper: %v", err)
	}
	if !rec.Flushed {
		t.Error("the wrapped recorder was not flushed")
	}
}
