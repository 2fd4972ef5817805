package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// testTuning exports within milliseconds and does not retry, so a test
// sees a span soon after its request ends.
func testTuning() tuning {
	t := defaultTuning()
	t.batchTimeout = 10 * time.Millisecond
	t.exportTimeout = 5 * time.Second
	t.retry.Enabled = false
	return t
}

// installRecorder installs an SDK provider that keeps spans in memory, for
// tests about the middleware alone.
func installRecorder(t *testing.T, opts ...sdktrace.TracerProviderOption) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(rec)}, opts...)...)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(prev)
		tp.Shutdown(context.Background())
	})
	return rec
}
