package tracing

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/repairx/repairxctl/internal/httpx"
)

// ScopeName is the instrumentation scope of the server spans.
const ScopeName = "github.com/repairx/repairxctl/internal/tracing"

// requestIDHeader is copied from the response onto the span, so that a span
// found in the tracing backend leads to the request's log lines and back.
const requestIDHeader = "X-Request-Id"

// Middleware starts a server span for each request, continuing the trace of
// an incoming W3C traceparent header (as NGINX's otel module sends it). The
// span is named after the method and the route pattern (see RecordRoute),
// never the raw path, which may carry ids; it records the status code and
// is marked as an error on 5xx and on panics. Put it outside the handler
// that writes the access log, so that line carries the trace id.
//
// Only a TracerProvider from the OpenTelemetry SDK, as Setup installs, is
// used: with anything else installed, the global no-op included, a request
// costs one atomic load and a type check.
func Middleware(next http.Handler) http.Handler {
	return &middleware{next: next}
}

type middleware struct {
	next http.Handler
	// tracer caches the tracer of the provider last seen, since asking a
	// provider for one takes its lock.
	tracer atomic.Pointer[providerTracer]
}

type providerTracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tp, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	if !ok {
		m.next.ServeHTTP(w, r)
		return
	}
	pt := m.tracer.Load()
	if pt == nil || pt.tp != tp {
		pt = &providerTracer{tp: tp, tracer: tp.Tracer(ScopeName)}
		m.tracer.Store(pt)
	}

	ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	method, known := spanMethod(r.Method)
	attrs := make([]attribute.KeyValue, 0, 8)
	if known {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method))
	} else {
		attrs = append(attrs, semconv.HTTPRequestMethodOther, semconv.HTTPRequestMethodOriginal(clean(r.Method, 32)))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// The path only: a query string may carry something secret.
	attrs = append(attrs, semconv.URLScheme(scheme), semconv.URLPath(clean(r.URL.Path, 200)))
	if v := protocolVersion(r); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(v))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(clean(ua, 256)))
	}
	ctx, span := pt.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))

	sw := &httpx.StatusWriter{ResponseWriter: w}
	r = r.WithContext(ctx)
	defer func() {
		p := recover()
		if span.IsRecording() {
			finish(span, r, sw, p != nil)
		}
		span.End()
		if p != nil {
			panic(p)
		}
	}()
	m.next.ServeHTTP(sw, r)
}

// finish records what is known once the handler is done.
func finish(span trace.Span, r *http.Request, sw *httpx.StatusWriter, panicked bool) {
	// A ServeMux directly inside Middleware leaves its pattern on r; one
	// further in works on a copy and calls RecordRoute itself.
	if r.Pattern != "" {
		nameRoute(span, r)
	}
	code := sw.Status()
	switch {
	case panicked:
		span.SetAttributes(semconv.ErrorTypeKey.String("panic"))
		span.SetStatus(codes.Error, "panic")
	case code >= 500:
		// 4xx are the client's errors, not the server's (semantic conventions).
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(code)))
		span.SetStatus(codes.Error, "")
	}
	if !panicked || sw.Wrote {
		span.SetAttributes(semconv.HTTPResponseStatusCode(code))
	}
	if id := sw.Header().Get(requestIDHeader); id != "" {
		span.SetAttributes(semconv.HTTPResponseHeader("x-request-id", clean(id, 64)))
	}
}

// RecordRoute names the request's span after the pattern of the ServeMux
// route that matched (r.Pattern) and sets its http.route. Call it from the
// handler the mux chose when middleware between Middleware and the mux
// replace the request (r.WithContext), since Middleware then cannot see the
// pattern. Without a recording span it does nothing.
func RecordRoute(r *http.Request) {
	if r.Pattern == "" {
		return
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		nameRoute(span, r)
	}
}

func nameRoute(span trace.Span, r *http.Request) {
	route := routeOf(r.Pattern)
	method, _ := spanMethod(r.Method)
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

// routeOf is a ServeMux pattern's path template: "POST /api/v1/auth/login"
// and "example.com/api/" give "/api/v1/auth/login" and "/api/".
func routeOf(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

// spanMethod bounds span names: an unknown method is named "HTTP", as the
// semantic conventions say, so a client cannot mint new span names.
func spanMethod(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "QUERY":
		return m, true
	}
	return "HTTP", false
}

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 3:
		return "3"
	}
	return ""
}

// clean bounds a client-supplied string and makes it valid UTF-8: the
// exporter's protobuf encoding refuses anything else, and one bad string
// would cost the whole batch of spans it travels in.
func clean(s string, n int) string {
	if len(s) > n {
		// Cut at a rune boundary (or within at most 3 bytes of n).
		i := n
		for i > n-utf8.UTFMax && i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
