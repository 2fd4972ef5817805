package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkMiddleware measures what a request pays: bare is the handler
// alone, off is Middleware with no provider (tracing off), sampled and
// unsampled are with an SDK provider whose batcher feeds an exporter that
// discards, so the export itself is not counted.
func BenchmarkMiddleware(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/items/{id}", inner)
	req := httptest.NewRequest("GET", "/api/v1/items/42", nil)
	req.Header.Set("User-Agent", "bench/1.0")
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(discard{}, req)
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, mux) })
	b.Run("off", func(b *testing.B) { run(b, Middleware(mux)) })
	for _, tc := range []struct {
		name  string
		ratio float64
	}{{"sampled", 1}, {"unsampled", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithBatcher(tracetest.NewNoopExporter()),
				sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(tc.ratio))))
			prev := otel.GetTracerProvider()
			otel.SetTracerProvider(tp)
			defer func() {
				otel.SetTracerProvider(prev)
				tp.Shutdown(context.Background())
			}()
			run(b, Middleware(mux))
		})
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
