package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatVersion is the version of Result's JSON form.
const FormatVersion = 1

// Result is what `load run` prints: one JSON object on stdout.
type Result struct {
	FormatVersion int     `json:"format_version"`
	Label         string  `json:"label,omitempty"`
	URL           string  `json:"url"`
	Concurrency   int     `json:"concurrency"`
	WarmupS       float64 `json:"warmup_s"`
	// WarmupRequests were sent before the measured window, and not
	// recorded (a server's CPU time over the whole run covers them too).
	WarmupRequests int `json:"warmup_requests"`
	// ElapsedS is the measured window: from its start to the end of the
	// last request started in it.
	ElapsedS float64 `json:"elapsed_s"`
	// Requests counts every request of the measured window: responses of
	// any status and transport errors.
	Requests int `json:"requests"`
	// OK counts responses with an expected status (Expect).
	OK int `json:"ok"`
	// Errors counts the rest: other statuses and transport errors.
	Errors          int            `json:"errors"`
	TransportErrors int            `json:"transport_errors"`
	StatusCounts    map[string]int `json:"status_counts"`
	// FirstError is one transport error's text, to say what went wrong.
	FirstError string `json:"first_error,omitempty"`
	Expect     string `json:"expect"`
	// ReqPerS is responses (of any status) per second; OKPerS counts the
	// expected ones only and is the throughput to quote.
	ReqPerS float64 `json:"req_per_s"`
	OKPerS  float64 `json:"ok_per_s"`
	// LatencyMS is over every response, whatever its status (transport
	// errors have no latency).
	LatencyMS LatencySummary `json:"latency_ms"`
	// XFFAddresses is how many distinct X-Forwarded-For addresses were
	// sent (0: the header was not sent).
	XFFAddresses int `json:"xff_addresses"`
	// ClientCPUS is the CPU time (user+system) this generator spent in the
	// measured window: it shares the machine with the server.
	ClientCPUS float64 `json:"client_cpu_s"`
	// ClientCPUTotalS is the generator's CPU time over its whole life:
	// login, warm-up and measurement.
	ClientCPUTotalS float64 `json:"client_cpu_total_s"`
	// Clean is false when any request failed or answered an unexpected
	// status: such a run's numbers must not be quoted as throughput.
	Clean bool `json:"clean"`
}

// tally is one worker's record of its requests.
type tally struct {
	lat           Latencies
	status        map[int]int
	transportErrs int
	firstErr      string
}

func newTally(capacity int) *tally {
	return &tally{lat: make(Latencies, 0, capacity), status: make(map[int]int)}
}

func (t *tally) response(status int, d time.Duration) {
	t.lat = append(t.lat, d)
	t.status[status]++
}

func (t *tally) failure(err error) {
	t.transportErrs++
	if t.firstErr == "" {
		t.firstErr = err.Error()
	}
}

// Expect says which statuses count as success.
type Expect struct {
	spec string
	ok   func(int) bool
}

// ParseExpect reads "2xx" (any 200-299), or a list of exact codes "200,204".
func ParseExpect(s string) (Expect, error) {
	s = strings.TrimSpace(s)
	if len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5' {
		class := int(s[0]-'0') * 100
		return Expect{s, func(c int) bool { return c >= class && c < class+100 }}, nil
	}
	codes := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 100 || c > 599 {
			return Expect{}, fmt.Errorf("-expect %q: want 2xx or status codes such as 200,204", s)
		}
		codes[c] = true
	}
	return Expect{s, func(c int) bool { return codes[c] }}, nil
}

// merge adds up the workers' tallies into a Result.
func merge(tallies []*tally, elapsed time.Duration, expect Expect) Result {
	r := Result{FormatVersion: FormatVersion, StatusCounts: map[string]int{}, Expect: expect.spec}
	var lat Latencies
	n := 0
	for _, t := range tallies {
		n += len(t.lat)
	}
	lat = make(Latencies, 0, n)
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		for code, c := range t.status {
			r.StatusCounts[strconv.Itoa(code)] += c
			if expect.ok(code) {
				r.OK += c
			} else {
				r.Errors += c
			}
		}
		r.TransportErrors += t.transportErrs
		if r.FirstError == "" {
			r.FirstError = t.firstErr
		}
	}
	r.Errors += r.TransportErrors
	r.Requests = len(lat) + r.TransportErrors
	r.ElapsedS = round(elapsed.Seconds(), 3)
	if elapsed > 0 {
		r.ReqPerS = round(float64(len(lat))/elapsed.Seconds(), 1)
		r.OKPerS = round(float64(r.OK)/elapsed.Seconds(), 1)
	}
	r.LatencyMS = lat.Summarize()
	r.Clean = r.Errors == 0 && r.OK > 0
	return r
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
