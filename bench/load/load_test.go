package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileNearestRank(t *testing.T) {
	hundred := make(Latencies, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1) // 1..100 ms
	}
	thousand := make(Latencies, 1000)
	for i := range thousand {
		thousand[i] = ms(i + 1)
	}
	tests := []struct {
		name string
		l    Latencies
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one sample p50", Latencies{ms(7)}, 50, ms(7)},
		{"one sample p99", Latencies{ms(7)}, 99, ms(7)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 is the max", hundred, 100, ms(100)},
		{"tiny p is the min", hundred, 0.001, ms(1)},
		{"p99 of 1..1000", thousand, 99, ms(990)},
		{"p99.9 of 1..1000", thousand, 99.9, ms(999)},
		// Nearest rank never interpolates: with 10 samples p99 is the max.
		{"p99 of ten", hundred[:10], 99, ms(10)},
		{"p90 of ten", hundred[:10], 90, ms(9)},
		{"p91 of ten", hundred[:10], 91, ms(10)},
	}
	for _, tt := range tests {
		if got := tt.l.Percentile(tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestSummarizeSortsAndRounds(t *testing.T) {
	l := make(Latencies, 0, 1000)
	for i := range 1000 {
		l = append(l, ms(i+1)+1500*time.Nanosecond) // x.0015 ms
	}
	rand.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
	got := l.Summarize()
	want := LatencySummary{P50: 500.002, P90: 900.002, P99: 990.002, P999: 999.002, Max: 1000.002, Mean: 500.502}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
}

func TestMergeFlagsErrors(t *testing.T) {
	expect, err := ParseExpect("2xx")
	if err != nil {
		t.Fatal(err)
	}
	a, b := newTally(0), newTally(0)
	for range 90 {
		a.response(200, ms(1))
	}
	for range 8 {
		b.response(429, ms(2))
	}
	b.failure(errors.New("connection reset by peer"))
	b.failure(errors.New("second error"))
	r := merge([]*tally{a, b}, 2*time.Second, expect)
	if r.Clean {
		t.Error("a run with 429s and transport errors is clean")
	}
	if r.Requests != 100 || r.OK != 90 || r.Errors != 10 || r.TransportErrors != 2 {
		t.Errorf("requests %d ok %d errors %d transport %d, want 100 90 10 2", r.Requests, r.OK, r.Errors, r.TransportErrors)
	}
	if r.StatusCounts["200"] != 90 || r.StatusCounts["429"] != 8 || len(r.StatusCounts) != 2 {
		t.Errorf("status counts %v", r.StatusCounts)
	}
	if r.FirstError != "connection reset by peer" {
		t.Errorf("first error %q", r.FirstError)
	}
	if r.OKPerS != 45 || r.ReqPerS != 49 {
		t.Errorf("ok/s %v req/s %v, want 45 and 49", r.OKPerS, r.ReqPerS)
	}

	clean := merge([]*tally{a}, time.Second, expect)
	if !clean.Clean || clean.Errors != 0 || clean.OKPerS != 90 {
		t.Errorf("all-200 run: clean %v errors %d ok/s %v", clean.Clean, clean.Errors, clean.OKPerS)
	}
	if empty := merge([]*tally{newTally(0)}, time.Second, expect); empty.Clean {
		t.Error("a run without a single success is clean")
	}
}

func TestParseExpect(t *testing.T) {
	tests := []struct {
		spec    string
		yes, no []int
	}{
		{"2xx", []int{200, 204, 299}, []int{199, 300, 429}},
		{"200", []int{200}, []int{201, 401}},
		{"200, 401", []int{200, 401}, []int{204, 429}},
	}
	for _, tt := range tests {
		e, err := ParseExpect(tt.spec)
		if err != nil {
			t.Fatalf("ParseExpect(%q): %v", tt.spec, err)
		}
		for _, c := range tt.yes {
			if !e.ok(c) {
				t.Errorf("%q refuses %d", tt.spec, c)
			}
		}
		for _, c := range tt.no {
			if e.ok(c) {
				t.Errorf("%q accepts %d", tt.spec, c)
			}
		}
	}
	for _, bad := range []string{"", "6xx", "abc", "20", "200,x"} {
		if _, err := ParseExpect(bad); err == nil {
			t.Errorf("ParseExpect(%q) accepted", bad)
		}
	}
}

func TestXFFAddrCountsUp(t *testing.T) {
	base := netip.MustParseAddr("10.0.0.0")
	for i, want := range map[int64]string{0: "10.0.0.0", 255: "10.0.0.255", 256: "10.0.1.0", 199999: "10.3.13.63"} {
		if got := xffAddr(base, i); got != want {
			t.Errorf("xffAddr(%v, %d) = %s, want %s", base, i, got, want)
		}
	}
}

// TestRunAgainstServer drives `load run` end to end against a TLS test
// server that refuses every fifth request and checks what it reports.
func TestRunAgainstServer(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-Forwarded-For")] = true
		mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			t.Errorf("Authorization sent without -login-email")
		}
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	var out, errOut bytes.Buffer
	code := run([]string{"run", "-url", srv.URL + "/x", "-c", "4", "-n", "500", "-warmup", "0", "-xff", "100"}, &out, &errOut)
	if code != exitErrors {
		t.Fatalf("exit %d, want %d (errors); stderr: %s", code, exitErrors, errOut.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not a Result: %v\n%s", err, out.String())
	}
	if r.Requests != 500 || r.OK != 400 || r.Errors != 100 || r.StatusCounts["429"] != 100 || r.Clean {
		t.Errorf("requests %d ok %d errors %d counts %v clean %v, want 500 400 100, 100 429s, unclean",
			r.Requests, r.OK, r.Errors, r.StatusCounts, r.Clean)
	}
	if r.XFFAddresses != 100 || len(seen) != 100 || !seen["10.0.0.99"] || seen["10.0.0.100"] {
		t.Errorf("xff_addresses %d, server saw %d distinct X-Forwarded-For values", r.XFFAddresses, len(seen))
	}
	if r.LatencyMS.P99 <= 0 || r.LatencyMS.P99 < r.LatencyMS.P50 || r.OKPerS <= 0 {
		t.Errorf("latency %+v ok/s %v", r.LatencyMS, r.OKPerS)
	}
	if !strings.Contains(errOut.String(), "100 of 500 requests failed") {
		t.Errorf("stderr does not flag the errors: %q", errOut.String())
	}

	// Only 200s, by duration: clean, exit 0.
	out.Reset()
	errOut.Reset()
	n.Store(1) // the next four are 200; -expect 200,429 then covers the fifth
	code = run([]string{"run", "-url", srv.URL, "-c", "2", "-d", "200ms", "-warmup", "50ms", "-expect", "200,429"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || !r.Clean || r.Errors != 0 || r.ElapsedS < 0.2 {
		t.Fatalf("clean run: %v %+v", err, r)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "-url", "ftp://x"},
		{"run", "-url", "https://127.0.0.1:1", "-c", "0"},
		{"run", "-url", "https://127.0.0.1:1", "-xff-base", "::1"},
		{"run", "-url", "https://127.0.0.1:1", "-xff", "2", "-xff-base", "255.255.255.255"},
		{"run", "-url", "https://127.0.0.1:1", "-expect", "ok"},
		{"nope"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestBareHandlerAnswersLikeLive(t *testing.T) {
	rec := httptest.NewRecorder()
	BareHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/anything", nil))
	if rec.Code != 200 || rec.Body.String() != "{\"status\":\"ok\"}\n" ||
		rec.Header().Get("Content-Length") != "16" || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("bare answer: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
