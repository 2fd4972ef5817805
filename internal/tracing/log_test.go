package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex(parentTrace)
	sid, _ := trace.SpanIDFromHex(parentSpan)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

// withSpan hands every record to its handler with a span in the context,
// so the standard library's handler tests run through LogHandler's id path.
type withSpan struct {
	h   slog.Handler
	ctx context.Context
}

func (w withSpan) Enabled(ctx context.Context, l slog.Level) bool { return w.h.Enabled(ctx, l) }
func (w withSpan) Handle(_ context.Context, r slog.Record) error  { return w.h.Handle(w.ctx, r) }
func (w withSpan) WithAttrs(as []slog.Attr) slog.Handler          { return withSpan{w.h.WithAttrs(as), w.ctx} }
func (w withSpan) WithGroup(name string) slog.Handler             { return withSpan{w.h.WithGroup(name), w.ctx} }

// LogHandler keeps slog's handler contract (testing/slogtest), with and
// without a span, and the ids stay at the top level in every case.
func TestLogHandlerConformance(t *testing.T) {
	ctx, sc := spanContext(t)
	for _, span := range []bool{false, true} {
		t.Run(map[bool]string{false: "no span", true: "span"}[span], func(t *testing.T) {
			var buf bytes.Buffer
			slogtest.Run(t, func(*testing.T) slog.Handler {
				buf.Reset()
				var h slog.Handler = LogHandler(slog.NewJSONHandler(&buf, nil))
				if span {
					h = withSpan{h, ctx}
				}
				return h
			}, func(t *testing.T) map[string]any {
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Fatalf("%v: %s", err, buf.Bytes())
				}
				want := map[bool]any{false: nil, true: sc.TraceID().String()}[span]
				if m[TraceIDKey] != want {
					t.Errorf("top-level trace_id = %v, want %v in %s", m[TraceIDKey], want, buf.Bytes())
				}
				if span {
					delete(m, TraceIDKey)
					delete(m, SpanIDKey)
				}
				return m
			})
		})
	}
}

func TestLogHandlerGroups(t *testing.T) {
	ctx, sc := spanContext(t)
	var buf bytes.Buffer
	base := slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log := base.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h")
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{ctx, `{"a":1,"trace_id":"` + sc.TraceID().String() + `","span_id":"` + sc.SpanID().String() + `","g":{"b":2,"h":{"c":3}}}`},
		{context.Background(), `{"a":1,"g":{"b":2,"h":{"c":3}}}`},
	} {
		buf.Reset()
		log.InfoContext(tc.ctx, "m", "c", 3)
		var got, want map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(tc.want), &want)
		delete(got, "time")
		delete(got, "level")
		delete(got, "msg")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %s\nwant %s", strings.TrimSpace(buf.String()), tc.want)
		}
	}
	// The wrapped handler decides the level.
	buf.Reset()
	base.DebugContext(ctx, "hidden")
	if buf.Len() != 0 || base.Enabled(ctx, slog.LevelDebug) {
		t.Errorf("a debug record passed an info handler: %s", buf.String())
	}
}
