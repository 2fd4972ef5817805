package tracing

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/repairx/repairxctl/internal/testenv"
	"github.com/repairx/repairxctl/internal/tracing/tracingtest"
)

// These tests change OpenTelemetry's global provider: none runs in parallel.

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

// startTracing runs setup against the collector and shuts it down when the
// test ends.
func startTracing(t *testing.T, c *tracingtest.Collector, o Options, tu tuning) func(context.Context) error {
	t.Helper()
	o.Endpoint = c.URL
	shutdown, err := setup(t.Context(), o, tu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(context.Background()) })
	return shutdown
}

func get(t *testing.T, method, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func byName(t *testing.T, spans []tracingtest.Span, name string) tracingtest.Span {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span named %q among %q", name, names)
	return tracingtest.Span{}
}

func TestServerSpansReachTheCollector(t *testing.T) {
	c := tracingtest.New(t)
	logs := &testenv.Buffer{}
	startTracing(t, c, Options{SampleRatio: 1, ServiceName: "repairx-test", ServiceVersion: "9.9.9",
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}, testTuning())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-0001")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /api/v1/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /api/v1/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusNotFound)
	})
	srv := httptest.NewServer(Middleware(mux))
	defer srv.Close()

	// As NGINX's otel module sends it: the request continues its trace.
	get(t, http.MethodGet, srv.URL+"/api/v1/items/42?token=s3cret", map[string]string{
		"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01", "User-Agent": "probe/1.0"})
	get(t, http.MethodPost, srv.URL+"/api/v1/fail", nil)
	get(t, http.MethodGet, srv.URL+"/api/v1/missing", nil)

	spans := c.WaitSpans(t, 3, 10*time.Second)
	ok := byName(t, spans, "GET /api/v1/items/{id}")
	if ok.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("kind = %v, want server", ok.Kind)
	}
	if ok.TraceID() != parentTrace || ok.ParentID() != parentSpan {
		t.Errorf("trace %s parent %s, want the traceparent's %s %s", ok.TraceID(), ok.ParentID(), parentTrace, parentSpan)
	}
	a := ok.Attrs()
	for k, want := range map[string]string{
		"http.request.method":               "GET",
		"http.route":                        "/api/v1/items/{id}",
		"http.response.status_code":         "200",
		"url.path":                          "/api/v1/items/42",
		"url.scheme":                        "http",
		"network.protocol.version":          "1.1",
		"user_agent.original":               "probe/1.0",
		"http.response.header.x-request-id": "req-0001",
	} {
		if a[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, a[k], want)
		}
	}
	for k, v := range a {
		if strings.Contains(v, "s3cret") {
			t.Errorf("attribute %s carries the query string: %q", k, v)
		}
	}
	if ok.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("a 200 is marked as an error")
	}
	if ok.Resource["service.name"] != "repairx-test" || ok.Resource["service.version"] != "9.9.9" {
		t.Errorf("resource = %v", ok.Resource)
	}
	if ok.Scope != ScopeName {
		t.Errorf("scope = %q", ok.Scope)
	}

	fail := byName(t, spans, "POST /api/v1/fail")
	if fail.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || fail.Attrs()["error.type"] != "503" ||
		fail.Attrs()["http.response.status_code"] != "503" {
		t.Errorf("5xx span: status %v, attributes %v", fail.Status, fail.Attrs())
	}
	if fail.TraceID() == parentTrace || len(fail.ParentSpanId) != 0 {
		t.Errorf("a request without traceparent starts a new trace: got trace %s parent %s", fail.TraceID(), fail.ParentID())
	}
	missing := byName(t, spans, "GET /api/v1/missing")
	if missing.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR || missing.Attrs()["error.type"] != "" {
		t.Errorf("a 404 is the client's error, not the server's: %v %v", missing.Status, missing.Attrs())
	}

	paths, _ := c.Requests()
	if len(paths) == 0 || paths[0] != "/v1/traces" {
		t.Errorf("export paths = %q, want /v1/traces", paths)
	}
	if !strings.Contains(logs.String(), `"msg":"tracing on"`) || !strings.Contains(logs.String(), c.URL) {
		t.Errorf("no start-up line naming the endpoint:\n%s", logs)
	}
}

// Middleware between the span and the mux replace the request, so the
// mux's pattern reaches the span only through RecordRoute; otherwise the
// span is named after the method alone, never the raw path.
func TestSpanNames(t *testing.T) {
	rec := installRecorder(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/users/{id}/disable", func(w http.ResponseWriter, r *http.Request) {
		RecordRoute(r)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	type key struct{}
	copying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, 1)))
	})
	h := Middleware(copying)
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/api/v1/users/7731/disable", "POST /api/v1/users/{id}/disable"},
		{"GET", "/api/v1/users/7731", "GET"},
		{"BREW", "/api/v1/users/7731", "HTTP"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
		ended := rec.Ended()
		s := ended[len(ended)-1]
		if s.Name() != tc.want {
			t.Errorf("%s %s: span %q, want %q", tc.method, tc.path, s.Name(), tc.want)
		}
		if tc.method == "BREW" {
			a := map[string]string{}
			for _, kv := range s.Attributes() {
				a[string(kv.Key)] = kv.Value.Emit()
			}
			if a["http.request.method"] != "_OTHER" || a["http.request.method_original"] != "BREW" {
				t.Errorf("unknown method attributes: %v", a)
			}
		}
	}
	if got := routeOf("example.com/api/"); got != "/api/" {
		t.Errorf("routeOf with a host = %q", got)
	}
}

// A sample ratio of 0 records no new trace, but a parent that NGINX (or a
// client) sampled is honoured, and an unsampled request still has ids for
// the logs.
func TestSampleRatioZeroHonoursSampledParent(t *testing.T) {
	c := tracingtest.New(t)
	shutdown := startTracing(t, c, Options{SampleRatio: 0, Logger: slog.New(slog.DiscardHandler)}, testTuning())
	var mu sync.Mutex
	seen := map[string]trace.SpanContext{}
	srv := httptest.NewServer(Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = trace.SpanContextFromContext(r.Context())
		mu.Unlock()
	})))
	defer srv.Close()
	const unsampledTrace = "0af7651916cd43dd8448eb211c80319c"
	get(t, "GET", srv.URL+"/new", nil)
	get(t, "GET", srv.URL+"/sampled", map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01"})
	get(t, "GET", srv.URL+"/unsampled", map[string]string{"traceparent": "00-" + unsampledTrace + "-b7ad6b7169203331-00"})

	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := c.Spans()
	if len(spans) != 1 || spans[0].TraceID() != parentTrace || spans[0].ParentID() != parentSpan {
		for _, s := range spans {
			t.Logf("got %s trace %s", s.Name, s.TraceID())
		}
		t.Fatalf("got %d spans, want only the sampled parent's", len(spans))
	}
	mu.Lock()
	defer mu.Unlock()
	if sc := seen["/new"]; !sc.IsValid() || sc.IsSampled() {
		t.Errorf("a new unsampled request: span context %v, want valid and not sampled", sc)
	}
	if sc := seen["/unsampled"]; sc.TraceID().String() != unsampledTrace || sc.IsSampled() {
		t.Errorf("an unsampled parent: trace %s sampled %v", sc.TraceID(), sc.IsSampled())
	}
}

// Shutdown sends what waits in the queue, however long the batch timeout,
// and puts the previous provider back: later requests make no spans.
func TestShutdownFlushesAndTurnsOff(t *testing.T) {
	c := tracingtest.New(t)
	tu := testTuning()
	tu.batchTimeout = time.Hour
	shutdown := startTracing(t, c, Options{SampleRatio: 1, Logger: slog.New(slog.DiscardHandler)}, tu)
	var last trace.SpanContext
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = trace.SpanContextFromContext(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/a", nil))
	if !last.IsSampled() {
		t.Fatal("no sampled span while tracing is on")
	}
	if n := len(c.Spans()); n != 0 {
		t.Fatalf("%d spans exported before the hour-long batch timeout", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.Spans(); len(s) != 1 || s[0].TraceID() != last.TraceID().String() {
		t.Fatalf("after shutdown the collector has %d spans, want the queued one", len(s))
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Error("shutdown left the SDK provider installed")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/b", nil))
	if last.IsValid() {
		t.Errorf("a request after shutdown got span context %v", last)
	}
	if err := shutdown(ctx); err != nil {
		t.Errorf("a second shutdown: %v", err)
	}
}

// Export failures never reach a request: they go to Options.Logger. A
// collector's token goes in OTEL_EXPORTER_OTLP_HEADERS, not the URL.
func TestExportErrorsAreLoggedAndHeadersSent(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20tok-123")
	c := tracingtest.New(t)
	c.Fail(http.StatusBadRequest)
	logs := &testenv.Buffer{}
	shutdown := startTracing(t, c, Options{SampleRatio: 1, Logger: slog.New(slog.NewJSONHandler(logs, nil))}, testTuning())
	rec := httptest.NewRecorder()
	Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })).
		ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "fine" {
		t.Fatalf("the request got %d %q", rec.Code, rec.Body)
	}
	shutdown(context.Background())
	if !strings.Contains(logs.String(), `"msg":"tracing export failed"`) {
		t.Errorf("no export failure in the log:\n%s", logs)
	}
	_, headers := c.Requests()
	if len(headers) == 0 || headers[0].Get("Authorization") != "Bearer tok-123" {
		t.Errorf("export requests' headers: %v", headers)
	}
}

// A client's invalid UTF-8 (a path with %ff, a raw user agent) must not
// cost the batch: protobuf refuses invalid strings.
func TestInvalidUTF8DoesNotLoseTheBatch(t *testing.T) {
	c := tracingtest.New(t)
	startTracing(t, c, Options{SampleRatio: 1, Logger: slog.New(slog.DiscardHandler)}, testTuning())
	h := Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/x%ff%fey", nil)
	req.Header.Set("User-Agent", "bad\xc3(agent"+strings.Repeat("é", 300))
	h.ServeHTTP(httptest.NewRecorder(), req)
	s := c.WaitSpans(t, 1, 10*time.Second)[0]
	for k, v := range s.Attrs() {
		if !utf8.ValidString(v) {
			t.Errorf("%s = %q is not UTF-8", k, v)
		}
	}
	if got := s.Attrs()["url.path"]; got != "/x\uFFFDy" {
		t.Errorf("url.path = %q", got)
	}
	if ua := s.Attrs()["user_agent.original"]; len(ua) > 256+8 || !strings.HasPrefix(ua, "bad\uFFFD(agent") {
		t.Errorf("user agent = %q (%d bytes)", ua, len(ua))
	}
}

func TestPanicMarksTheSpanAndPropagates(t *testing.T) {
	rec := installRecorder(t)
	h := Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Status().Code.String() != "Error" {
		t.Fatalf("spans after a panic: %v", ended)
	}
}

func TestOffPassesThrough(t *testing.T) {
	var gotW http.ResponseWriter
	var gotSC trace.SpanContext
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotW, gotSC = w, trace.SpanContextFromContext(r.Context())
	}))
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
	h.ServeHTTP(w, req)
	if gotW != w || gotSC.IsValid() {
		t.Errorf("with tracing off the handler got writer %T and span context %v", gotW, gotSC)
	}
	shutdown, err := Setup(t.Context(), Options{})
	if err != nil || shutdown(t.Context()) != nil {
		t.Errorf("Setup with no endpoint: %v", err)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Error("Setup with no endpoint installed a provider")
	}
}

func TestSetupRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"ftp", Options{Endpoint: "ftp://collector:4318"}, "want an http:// or https:// URL"},
		{"no scheme", Options{Endpoint: "collector:4318"}, "want an http:// or https:// URL"},
		{"no host", Options{Endpoint: "http:///v1/traces"}, "has no host"},
		{"query", Options{Endpoint: "http://collector:4318/?token=s3cret"}, "must not have a query"},
		{"fragment", Options{Endpoint: "http://collector:4318/#s3cret"}, "must not have a query or fragment"},
		{"credentials", Options{Endpoint: "http://user:s3cret@collector:4318"}, "must not carry credentials"},
		{"credentials, bad scheme", Options{Endpoint: "gopher://user:s3cret@collector:4318"}, `"gopher://collector:4318"`},
		{"credentials, unparsable", Options{Endpoint: "http://user:s3cret@collector:4318/%zz"}, "is not a URL"},
		{"ratio above 1", Options{Endpoint: "http://collector:4318", SampleRatio: 1.5}, "outside 0..1"},
		{"negative ratio", Options{Endpoint: "http://collector:4318", SampleRatio: -0.1}, "outside 0..1"},
		{"NaN ratio", Options{Endpoint: "http://collector:4318", SampleRatio: math.NaN()}, "outside 0..1"},
		{"insecure https", Options{Endpoint: "https://collector:4318", Insecure: true}, "is https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Setup(t.Context(), tc.o)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the secret", err)
			}
			if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
				t.Error("a rejected Setup installed a provider")
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, host, path string
		insecure       bool
	}{
		{"http://127.0.0.1:4318", "127.0.0.1:4318", "/v1/traces", true},
		{"http://127.0.0.1:4318/", "127.0.0.1:4318", "/v1/traces", true},
		{"https://otel.example.com/otlp/", "otel.example.com", "/otlp/v1/traces", false},
		{"https://otel.example.com/custom/v1/traces", "otel.example.com", "/custom/v1/traces", false},
	} {
		host, path, insecure, err := parseEndpoint(tc.in)
		if err != nil || host != tc.host || path != tc.path || insecure != tc.insecure {
			t.Errorf("parseEndpoint(%q) = %q %q %v %v", tc.in, host, path, insecure, err)
		}
	}
}

// A collector behind a path prefix gets the spans there.
func TestEndpointWithPathPrefix(t *testing.T) {
	c := tracingtest.New(t)
	shutdown, err := setup(t.Context(), Options{Endpoint: c.URL + "/otlp", SampleRatio: 1, Logger: slog.New(slog.DiscardHandler)}, testTuning())
	if err != nil {
		t.Fatal(err)
	}
	Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if paths, _ := c.Requests(); len(paths) != 1 || paths[0] != "/otlp/v1/traces" {
		t.Errorf("export paths = %q", paths)
	}
}

// The trace id a log line carries is the one of the span the collector
// received for the request.
func TestLogLineCarriesTheExportedTraceID(t *testing.T) {
	c := tracingtest.New(t)
	startTracing(t, c, Options{SampleRatio: 1, Logger: slog.New(slog.DiscardHandler)}, testTuning())
	var out testenv.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&out, nil)))
	srv := httptest.NewServer(Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "handled", "n", 1)
	})))
	defer srv.Close()
	get(t, "GET", srv.URL+"/x", map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01"})
	log.Info("no request here")

	span := c.WaitSpans(t, 1, 10*time.Second)[0]
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log:\n%s", out.String())
	}
	var withSpan, without map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &withSpan); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &without); err != nil {
		t.Fatal(err)
	}
	if withSpan[TraceIDKey] != span.TraceID() || withSpan[SpanIDKey] != span.SpanID() || span.TraceID() != parentTrace {
		t.Errorf("log ids %v/%v, span %s/%s", withSpan[TraceIDKey], withSpan[SpanIDKey], span.TraceID(), span.SpanID())
	}
	if _, ok := without[TraceIDKey]; ok {
		t.Errorf("a line without a span got a trace id: %s", lines[1])
	}
}
