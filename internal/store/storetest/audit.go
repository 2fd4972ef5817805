package storetest

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
)

var auditCases = []testCase{
	{"RoundTrip", testAuditRoundTrip},
	{"NewestFirst", testAuditOrder},
	{"Filters", testAuditFilters},
	{"FilterBoundsBetweenMicroseconds", testAuditFilterSubMicrosecond},
	{"Invalid", testAuditInvalid},
}

func mustAppend(t *testing.T, s store.Store, evs ...audit.Event) {
	t.Helper()
	for _, ev := range evs {
		must(t, "AppendAudit "+ev.Action, s.AppendAudit(t.Context(), ev))
	}
}

func mustList(t *testing.T, s store.Store, f store.AuditFilter) []audit.Event {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), f)
	must(t, "ListAudit "+describe(f), err)
	return evs
}

// resources lists the events' Resource fields, which the cases use as
// names.
func resources(evs []audit.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Resource)
	}
	return out
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	in := audit.Event{
		Timestamp: t0, UserID: "u-1", IP: "2001:db8::7", UserAgent: "Mozilla/5.0 \x1b[31mred\x1b[0m ünïcode",
		Action: audit.ActionRoleChange, Resource: "user/u-2", Result: audit.ResultSuccess,
		Details: map[string]any{
			"from": "technician", "to": "manager", "attempt": 3, "ratio": 0.25, "forced": true, "note": nil,
			"roles":  []string{"a", "b"},
			"nested": map[string]any{"count": int64(7), "list": []any{1, "x", false}},
		},
	}
	bare := audit.Event{Timestamp: at(time.Second), Action: audit.ActionLogout}
	empty := audit.Event{Timestamp: at(2 * time.Second), Action: audit.ActionLogin, Details: map[string]any{}}
	mustAppend(t, s, in, bare, empty)

	evs := mustList(t, s, store.AuditFilter{})
	if len(evs) != 3 {
		t.Fatalf("ListAudit = %d events, want 3", len(evs))
	}
	got := evs[2]
	checkTime(t, "Timestamp", got.Timestamp, in.Timestamp)
	if got.UserID != in.UserID || got.IP != in.IP || got.UserAgent != in.UserAgent || got.Action != in.Action ||
		got.Resource != in.Resource || got.Result != in.Result {
		t.Errorf("ListAudit returned\n%+v\nwant\n%+v", got, in)
	}
	// Details come back as decoded JSON.
	wantDetails := map[string]any{
		"from": "technician", "to": "manager", "attempt": float64(3), "ratio": 0.25, "forced": true, "note": nil,
		"roles":  []any{"a", "b"},
		"nested": map[string]any{"count": float64(7), "list": []any{float64(1), "x", false}},
	}
	if !reflect.DeepEqual(got.Details, wantDetails) {
		t.Errorf("Details = %#v\nwant %#v", got.Details, wantDetails)
	}
	for _, ev := range evs[:2] {
		if len(ev.Details) != 0 {
			t.Errorf("%s event without details came back with %#v", ev.Action, ev.Details)
		}
	}
	if evs[1].UserID != "" || evs[1].IP != "" || evs[1].Result != "" {
		t.Errorf("bare event came back as %+v", evs[1])
	}
}

func testAuditOrder(t *testing.T, s store.Store) {
	if evs := mustList(t, s, store.AuditFilter{}); len(evs) != 0 {
		t.Fatalf("ListAudit on an empty store = %+v", evs)
	}
	base := time.Date(2031, 6, 1, 10, 0, 0, 0, time.UTC)
	// Appended out of time order, with ties.
	mustAppend(t, s,
		audit.Event{Timestamp: base.Add(time.Second), Action: "a", Resource: "second"},
		audit.Event{Timestamp: base.Add(3 * time.Second), Action: "a", Resource: "fourth"},
		audit.Event{Timestamp: base, Action: "a", Resource: "first"},
		audit.Event{Timestamp: base.Add(2 * time.Second), Action: "a", Resource: "tie-1"},
		audit.Event{Timestamp: base.Add(2 * time.Second), Action: "a", Resource: "tie-2"},
		audit.Event{Timestamp: base.Add(2*time.Second + 300*time.Nanosecond), Action: "a", Resource: "tie-3"}, // the same microsecond
	)
	want := []string{"fourth", "tie-3", "tie-2", "tie-1", "second", "first"}
	if got := resources(mustList(t, s, store.AuditFilter{})); !slices.Equal(got, want) {
		t.Errorf("ListAudit order = %q, want %q", got, want)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	base := time.Date(2031, 6, 1, 10, 0, 0, 0, time.UTC)
	mustAppend(t, s,
		audit.Event{Timestamp: base, UserID: "u1", Action: audit.ActionLogin, Resource: "e1"},
		audit.Event{Timestamp: base.Add(time.Second), UserID: "u2", Action: audit.ActionLogin, Resource: "e2"},
		audit.Event{Timestamp: base.Add(time.Second), UserID: "u1", Action: audit.ActionLogout, Resource: "e3"},
		audit.Event{Timestamp: base.Add(2 * time.Second), UserID: "u1", Action: audit.ActionLogin, Resource: "e4"},
		audit.Event{Timestamp: base.Add(3 * time.Second), Action: audit.ActionIPBlock, Resource: "e5"},
		audit.Event{Timestamp: base.Add(-time.Hour), UserID: "u2", Action: audit.ActionLogout, Resource: "e0"},
	)
	tests := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"none", store.AuditFilter{}, []string{"e5", "e4", "e3", "e2", "e1", "e0"}},
		{"user", store.AuditFilter{UserID: "u1"}, []string{"e4", "e3", "e1"}},
		{"action", store.AuditFilter{Action: audit.ActionLogin}, []string{"e4", "e2", "e1"}},
		{"user and action", store.AuditFilter{UserID: "u2", Action: audit.ActionLogout}, []string{"e0"}},
		{"since (inclusive)", store.AuditFilter{Since: base.Add(time.Second)}, []string{"e5", "e4", "e3", "e2"}},
		{"until (exclusive)", store.AuditFilter{Until: base.Add(2 * time.Second)}, []string{"e3", "e2", "e1", "e0"}},
		{"window", store.AuditFilter{Since: base, Until: base.Add(2 * time.Second)}, []string{"e3", "e2", "e1"}},
		{"empty window", store.AuditFilter{Since: base.Add(time.Second), Until: base.Add(time.Second)}, nil},
		{"limit", store.AuditFilter{Limit: 2}, []string{"e5", "e4"}},
		{"limit on a filter", store.AuditFilter{UserID: "u1", Limit: 2}, []string{"e4", "e3"}},
		{"all filters", store.AuditFilter{UserID: "u1", Action: audit.ActionLogin, Since: base, Until: base.Add(time.Hour), Limit: 1}, []string{"e4"}},
		{"no match", store.AuditFilter{UserID: "u3"}, nil},
		{"bounds in another zone", store.AuditFilter{Since: base.Add(time.Second).In(time.FixedZone("X", -5*3600))}, []string{"e5", "e4", "e3", "e2"}},
	}
	for _, tt := range tests {
		if got := resources(mustList(t, s, tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("ListAudit %s = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// testAuditFilterSubMicrosecond checks the bounds against events as stored
// (to the microsecond) when the bounds themselves carry nanoseconds: what
// ListAudit returns satisfies the filter on the Timestamps it returns, and
// what it leaves out does not.
func testAuditFilterSubMicrosecond(t *testing.T, s store.Store) {
	base := time.Date(2031, 6, 1, 10, 0, 0, 0, time.UTC)
	var names []string
	for i := range 5 {
		name := string(rune('a' + i))
		names = append(names, name)
		mustAppend(t, s, audit.Event{Timestamp: base.Add(time.Duration(i)*time.Microsecond + 400*time.Nanosecond), Action: "x", Resource: name})
	}
	all := mustList(t, s, store.AuditFilter{})
	for _, f := range []store.AuditFilter{
		{Since: base.Add(1500 * time.Nanosecond), Until: base.Add(3500 * time.Nanosecond)},
		{Since: base.Add(1 * time.Nanosecond)},
		{Until: base.Add(3999 * time.Nanosecond)},
		{Since: base.Add(2 * time.Microsecond), Until: base.Add(2*time.Microsecond + time.Nanosecond)},
	} {
		var want []string
		for _, ev := range all {
			if (f.Since.IsZero() || !ev.Timestamp.Before(f.Since)) && (f.Until.IsZero() || ev.Timestamp.Before(f.Until)) {
				want = append(want, ev.Resource)
			}
		}
		if got := resources(mustList(t, s, f)); !slices.Equal(got, want) {
			t.Errorf("ListAudit since %s until %s = %q, want %q (stored times %s..%s)",
				f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano), got, want,
				all[len(all)-1].Timestamp.Format(time.RFC3339Nano), all[0].Timestamp.Format(time.RFC3339Nano))
		}
	}
	if len(all) != len(names) {
		t.Errorf("ListAudit = %d events, want %d", len(all), len(names))
	}
}

func testAuditInvalid(t *testing.T, s store.Store) {
	for name, ev := range map[string]audit.Event{
		"no timestamp":                     {Action: audit.ActionLogin},
		"no action":                        {Timestamp: t0},
		"details that do not marshal":      {Timestamp: t0, Action: audit.ActionLogin, Details: map[string]any{"c": make(chan int)}},
		"a number JSON cannot hold":        {Timestamp: t0, Action: audit.ActionLogin, Details: map[string]any{"n": math.Inf(1)}},
		"a function in the nested details": {Timestamp: t0, Action: audit.ActionLogin, Details: map[string]any{"m": map[string]any{"f": func() {}}}},
	} {
		err := s.AppendAudit(t.Context(), ev)
		wantErr(t, "AppendAudit with "+name, err, store.ErrInvalid)
	}
	if evs := mustList(t, s, store.AuditFilter{}); len(evs) != 0 {
		t.Errorf("refused events were stored: %+v", evs)
	}
}
