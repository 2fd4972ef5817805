// Package tracing is the optional OpenTelemetry tracing of `repairxctl serve`:
// an OTLP/HTTP exporter behind a batching, bounded queue (Setup), a server
// span per request (Middleware) and trace ids in the logs (LogHandler).
//
// Tracing is off unless an endpoint is configured. The only state is the
// OpenTelemetry global TracerProvider: Setup installs one and its shutdown
// puts back the previous one; Middleware asks the global for it on each
// request, so the order in which the server builds its handler and calls
// Setup does not matter, and with nothing installed (or after shutdown) a
// request costs one atomic load and a type check.
package tracing

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Options configures Setup. The zero value means tracing off.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://127.0.0.1:4318; "" turns tracing off. Spans go to its path
	// followed by /v1/traces, unless the path already ends with /v1/traces.
	Endpoint string
	// SampleRatio is the share of new traces (no sampled parent) that are
	// recorded, from 0 to 1. A request whose traceparent says "sampled" is
	// always recorded, so that NGINX's or a client's decision holds.
	SampleRatio float64
	// ServiceName and ServiceVersion name this process in the traces;
	// ServiceName defaults to "repairxctl".
	ServiceName, ServiceVersion string
	// Insecure says the endpoint is plain http://. Setup derives this from
	// the scheme; setting it with an https:// endpoint is an error, since
	// the two disagree about what the operator asked for.
	Insecure bool
	// Logger receives export errors, which never reach a request; nil means
	// slog.Default().
	Logger *slog.Logger
}

// tuning holds the exporter's limits; tests shorten them.
type tuning struct {
	queueSize       int           // spans waiting for export; beyond it new spans are dropped
	batchSize       int           // spans per export request
	batchTimeout    time.Duration // longest a span waits before its batch is sent
	exportTimeout   time.Duration // one export, retries included
	retry           otlptracehttp.RetryConfig
	shutdownTimeout time.Duration // flush bound when the caller's context has none
}

func defaultTuning() tuning {
	return tuning{
		queueSize:     2048,
		batchSize:     512,
		batchTimeout:  5 * time.Second,
		exportTimeout: 10 * time.Second,
		retry: otlptracehttp.RetryConfig{
			Enabled:         true,
			InitialInterval: time.Second,
			MaxInterval:     5 * time.Second,
			MaxElapsedTime:  10 * time.Second,
		},
		shutdownTimeout: 5 * time.Second,
	}
}

// Setup installs a TracerProvider exporting over OTLP/HTTP and returns its
// shutdown, which flushes what is queued within the context's deadline (5 s
// if it has none) and restores the previous global provider. Spans are
// queued without blocking and dropped when the queue is full; export errors
// go to Options.Logger. With Endpoint "" Setup installs nothing and returns a
// no-op shutdown.
func Setup(ctx context.Context, o Options) (shutdown func(context.Context) error, err error) {
	return setup(ctx, o, defaultTuning())
}

func setup(ctx context.Context, o Options, t tuning) (func(context.Context) error, error) {
	if o.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	if math.IsNaN(o.SampleRatio) || o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is outside 0..1", o.SampleRatio)
	}
	host, path, insecure, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.Insecure && !insecure {
		return nil, fmt.Errorf("tracing: insecure export requested but endpoint %q is https", redact(o.Endpoint))
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	name := o.ServiceName
	if name == "" {
		name = "repairxctl"
	}

	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(host),
		otlptracehttp.WithURLPath(path),
		otlptracehttp.WithTimeout(t.exportTimeout),
		otlptracehttp.WithRetry(t.retry),
	}
	if insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	} else {
		opts = append(opts, otlptracehttp.WithTLSClientConfig(&tls.Config{MinVersion: tls.VersionTLS13}))
	}
	// New only builds the client: it does not dial, so an unreachable
	// collector cannot fail or delay startup.
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", redact(o.Endpoint), err)
	}
	// OTEL_RESOURCE_ATTRIBUTES (e.g. deployment.environment) is honoured;
	// the service name and version from our config win over it.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(o.ServiceVersion)),
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES or an unknown host name costs
		// those attributes, not the traces.
		log.LogAttrs(ctx, slog.LevelWarn, "tracing resource incomplete", slog.String("error", err.Error()))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp,
			sdktrace.WithMaxQueueSize(t.queueSize),
			sdktrace.WithMaxExportBatchSize(t.batchSize),
			sdktrace.WithBatchTimeout(t.batchTimeout),
			sdktrace.WithExportTimeout(t.exportTimeout),
		),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	)

	prevTP, prevProp, prevEH := otel.GetTracerProvider(), otel.GetTextMapPropagator(), otel.GetErrorHandler()
	otel.SetErrorHandler(errorLog{log})
	// The propagator is for outgoing calls made by other instrumentation;
	// Middleware reads incoming traceparent headers itself.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetTracerProvider(tp)
	log.LogAttrs(ctx, slog.LevelInfo, "tracing on", slog.String("endpoint", redact(o.Endpoint)),
		slog.Float64("sample_ratio", o.SampleRatio))

	var once sync.Once
	var shutdownErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, t.shutdownTimeout)
				defer cancel()
			}
			// New requests stop making spans before the flush starts.
			otel.SetTracerProvider(prevTP)
			otel.SetTextMapPropagator(prevProp)
			if err := tp.Shutdown(ctx); err != nil {
				shutdownErr = fmt.Errorf("tracing: flushing spans to %s: %w", redact(o.Endpoint), err)
			}
			otel.SetErrorHandler(prevEH)
		})
		return shutdownErr
	}, nil
}

// parseEndpoint checks an OTLP/HTTP URL and splits it into what the exporter
// takes. Credentials in the URL are refused: a collector's token belongs in
// a header (OTEL_EXPORTER_OTLP_HEADERS), not in a URL that ends up in logs.
func parseEndpoint(raw string) (host, path string, insecure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false, fmt.Errorf("tracing: endpoint %q is not a URL", redact(raw))
	}
	switch u.Scheme {
	case "http":
		insecure = true
	case "https":
	default:
		return "", "", false, fmt.Errorf("tracing: endpoint %q: want an http:// or https:// URL", redact(raw))
	}
	if u.Host == "" {
		return "", "", false, fmt.Errorf("tracing: endpoint %q has no host", redact(raw))
	}
	if u.User != nil {
		return "", "", false, errors.New("tracing: endpoint URL must not carry credentials; use OTEL_EXPORTER_OTLP_HEADERS")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", false, fmt.Errorf("tracing: endpoint %q must not have a query or fragment", redact(raw))
	}
	path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/v1/traces") {
		path += "/v1/traces"
	}
	return u.Host, path, insecure, nil
}

// redact drops a URL's user info and query so an endpoint can be printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// errorLog routes OpenTelemetry's internal errors (failed exports, dropped
// spans) to our logger instead of the standard library's.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Handle(err error) {
	e.log.LogAttrs(context.Background(), slog.LevelWarn, "tracing export failed", slog.String("error", err.Error()))
}
