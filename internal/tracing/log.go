package tracing

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys carrying the span context, as hex strings.
const (
	// TraceIDKey holds the 32-digit trace id, as NGINX's $otel_trace_id.
	TraceIDKey = "trace_id"
	// SpanIDKey holds the 16-digit id of the request's server span.
	SpanIDKey = "span_id"
)

// LogHandler wraps h so that a record logged with a context that carries a
// valid span context (InfoContext, LogAttrs with the request's context) gets
// trace_id and span_id attributes. They go at the top level of the record
// even in a logger with groups, where a log platform looks for them. Records
// without a span context, which is all of them when tracing is off, cost one
// context lookup.
func LogHandler(h slog.Handler) slog.Handler {
	return &logHandler{inner: h, base: h}
}

type logHandler struct {
	// inner is the wrapped handler with every WithAttrs and WithGroup
	// applied; base has those before the first group, and after holds the
	// rest to replay on top of the ids.
	inner slog.Handler
	base  slog.Handler
	after []func(slog.Handler) slog.Handler
}

func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.inner.Enabled(ctx, level)
}

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return l.inner.Handle(ctx, r)
	}
	ids := []slog.Attr{slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String())}
	if len(l.after) == 0 {
		// The caller may keep its record: add to a copy.
		r = r.Clone()
		r.AddAttrs(ids...)
		return l.inner.Handle(ctx, r)
	}
	// Inside a group the record's own attributes would take the ids into
	// it: rebuild the handler with the ids before the groups. Rare and
	// slower, so the common path above stays cheap.
	h := l.base.WithAttrs(ids)
	for _, apply := range l.after {
		h = apply(h)
	}
	return h.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return l
	}
	n := &logHandler{inner: l.inner.WithAttrs(attrs), base: l.base}
	if len(l.after) == 0 {
		n.base = n.inner
	} else {
		n.after = append(slices.Clip(l.after), func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
	}
	return n
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	return &logHandler{
		inner: l.inner.WithGroup(name),
		base:  l.base,
		after: append(slices.Clip(l.after), func(h slog.Handler) slog.Handler { return h.WithGroup(name) }),
	}
}
