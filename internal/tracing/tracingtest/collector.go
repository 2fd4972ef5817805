// Package tracingtest is a stand-in for an OpenTelemetry Collector in
// tests: no Collector binary can be installed on this machine, so an
// httptest server plays its OTLP/HTTP receiver, decoding the
// ExportTraceServiceRequest protobufs the way the receiver does (POST,
// application/x-protobuf, optionally gzip) and keeping the spans.
package tracingtest

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Collector receives OTLP/HTTP trace exports; its URL is the endpoint to
// give the exporter.
type Collector struct {
	*httptest.Server
	mu      sync.Mutex
	spans   []Span
	paths   []string
	headers []http.Header
	status  int
}

// Span is one span as the collector received it, with its resource and
// instrumentation scope.
type Span struct {
	*tracepb.Span
	Resource map[string]string
	Scope    string
}

// New starts a collector, closed when the test ends.
func New(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

// Fail makes the collector refuse exports with status (0: accept again).
func (c *Collector) Fail(status int) {
	c.mu.Lock()
	c.status = status
	c.mu.Unlock()
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a POST of application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.headers = append(c.headers, r.Header.Clone())
	status := c.status
	if status == 0 {
		for _, rs := range req.ResourceSpans {
			res := StringAttrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, Span{Span: s, Resource: res, Scope: ss.GetScope().GetName()})
				}
			}
		}
	}
	c.mu.Unlock()
	if status != 0 {
		http.Error(w, "collector says no", status)
		return
	}
	out, _ := proto.Marshal(&collpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// Spans are the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Requests are the paths and headers of the export requests so far.
func (c *Collector) Requests() ([]string, []http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...), append([]http.Header(nil), c.headers...)
}

// WaitSpans polls until at least n spans arrived, failing the test after
// timeout.
func (c *Collector) WaitSpans(t testing.TB, n int, timeout time.Duration) []Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if s := c.Spans(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector got %d spans within %s, want %d", len(c.Spans()), timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// StringAttrs renders attribute values as strings (integers in decimal,
// arrays joined with commas), enough for tests to compare.
func StringAttrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = anyString(kv.GetValue())
	}
	return m
}

func anyString(v *commonpb.AnyValue) string {
	switch v := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return v.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(v.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(v.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(v.ArrayValue.GetValues()))
		for _, e := range v.ArrayValue.GetValues() {
			parts = append(parts, anyString(e))
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// Attrs are the span's attributes as strings.
func (s Span) Attrs() map[string]string { return StringAttrs(s.Attributes) }

// TraceID is the span's trace id in hex, as in a traceparent or a log line.
func (s Span) TraceID() string { return hex.EncodeToString(s.TraceId) }

// SpanID is the span's id in hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.SpanId) }

// ParentID is the parent span's id in hex, "" for a root span.
func (s Span) ParentID() string { return hex.EncodeToString(s.ParentSpanId) }
