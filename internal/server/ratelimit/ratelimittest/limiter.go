package ratelimittest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

// RunLimiter runs the Limiter conformance suite. newLimiter is called once
// per subtest and must return a limiter holding no state.
func RunLimiter(t *testing.T, newLimiter func(t *testing.T) ratelimit.Limiter) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, ratelimit.Limiter)
	}{
		{"BurstThenRefill", testBurstThenRefill},
		{"SteadyRateAtEmissionInterval", testSteadyRate},
		{"MatchesGCRAFormula", testMatchesFormula},
		{"AtMostBurstPlusRatePerPeriod", testWindowBound},
		{"ExpiredKeyIsNew", testExpiredKeyIsNew},
		{"IndependentKeys", testIndependentKeys},
		{"DifferentLimitsPerKey", testDifferentLimits},
		{"InvalidLimit", testInvalidLimit},
		{"ConcurrentAllowNeverExceedsBurst", testConcurrentAllow},
		{"BatchAgreesWithSingleCalls", testBatchAgrees},
		{"BatchCountsAllowedChecksBeforeADenial", testBatchCountsEarlierChecks},
		{"BatchErrors", testBatchErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newLimiter(t)) })
	}
}

// allow calls l.Allow and fails the test on an error.
func allow(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit, now time.Time) ratelimit.Result {
	t.Helper()
	r, err := l.Allow(t.Context(), key, limit, now)
	if err != nil {
		t.Fatalf("Allow(%q, %v, %v): %v", key, limit, now, err)
	}
	return r
}

// step is one Allow call at epoch+at and the Result it must give (Limit is
// filled in by runSteps).
type step struct {
	at   time.Duration
	want ratelimit.Result
}

func allowed(remaining int, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{Allowed: true, Remaining: remaining, ResetAfter: reset}
}

func denied(retry, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{RetryAfter: retry, ResetAfter: reset}
}

func runSteps(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit, steps []step) {
	t.Helper()
	for i, s := range steps {
		s.want.Limit = limit
		if got := allow(t, l, key, limit, at(s.at)); got != s.want {
			t.Errorf("step %d at +%v: Allow = %s, want %s", i, s.at, resultString(got), resultString(s.want))
		}
	}
}

const ms = time.Millisecond

// testBurstThenRefill walks one key through the package documentation's
// formulas by hand: T = 100ms, Burst×T = 300ms.
func testBurstThenRefill(t *testing.T, l ratelimit.Limiter) {
	limit := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 3}
	runSteps(t, l, "g|203.0.113.9", limit, []step{
		// A new key has TAT = now; each request moves it on by T.
		{0, allowed(2, 100*ms)},
		{0, allowed(1, 200*ms)},
		{0, allowed(0, 300*ms)},
		// TAT = +300ms: the next one is allowed at 300+100-300 = +100ms.
		{0, denied(100*ms, 300*ms)},
		{0, denied(100*ms, 300*ms)}, // a denied request changed nothing
		{99 * ms, denied(1*ms, 201*ms)},
		{100 * ms, allowed(0, 300*ms)}, // refilled after exactly T; TAT = +400ms
		{100 * ms, denied(100*ms, 300*ms)},
		// TAT = +400ms: allowAt = 400+100-300 = +200ms; Remaining rounds down.
		{250 * ms, allowed(0, 250*ms)}, // TAT = +500ms
		{400 * ms, allowed(1, 200*ms)}, // TAT = +600ms
		{400 * ms, allowed(0, 300*ms)}, // TAT = +700ms
		{400 * ms, denied(100*ms, 300*ms)},
		// At +700ms TAT has passed: the key is as good as new.
		{700 * ms, allowed(2, 100*ms)},
	})
}

// testSteadyRate checks that after the burst a greedy client gets exactly one
// request per emission interval, not a millisecond earlier.
func testSteadyRate(t *testing.T, l ratelimit.Limiter) {
	limit := ratelimit.PerMinute(60) // T = 1s
	key := "a|198.51.100.20"
	for i := range 60 {
		if r := allow(t, l, key, limit, epoch); !r.Allowed || r.Remaining != 59-i {
			t.Fatalf("burst request %d: %s, want allowed with %d remaining", i+1, resultString(r), 59-i)
		}
	}
	if r := allow(t, l, key, limit, epoch); r.Allowed || r.RetryAfter != time.Second || r.ResetAfter != time.Minute {
		t.Fatalf("request 61: %s, want denied, retry 1s, reset 1m", resultString(r))
	}
	for k := 1; k <= 120; k++ {
		due := time.Duration(k) * time.Second
		if r := allow(t, l, key, limit, at(due-ms)); r.Allowed || r.RetryAfter != ms {
			t.Fatalf("at +%v: %s, want denied with retry 1ms", due-ms, resultString(r))
		}
		if r := allow(t, l, key, limit, at(due)); !r.Allowed || r.Remaining != 0 || r.ResetAfter != time.Minute {
			t.Fatalf("at +%v: %s, want allowed, 0 remaining, reset 1m", due, resultString(r))
		}
	}
}

// gcra is the package documentation's algorithm, written out plainly.
type gcra map[string]time.Time

func (m gcra) allow(key string, l ratelimit.Limit, now time.Time) ratelimit.Result {
	T := l.Emission()
	burst := time.Duration(l.Burst) * T
	tat := m[key]
	if tat.Before(now) {
		tat = now
	}
	if allowAt := tat.Add(T - burst); now.Before(allowAt) {
		return ratelimit.Result{Limit: l, RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}
	}
	tat = tat.Add(T)
	m[key] = tat
	return ratelimit.Result{Limit: l, Allowed: true, Remaining: int(now.Sub(tat.Add(-burst)) / T), ResetAfter: tat.Sub(now)}
}

// portableLimits have emission intervals in whole milliseconds.
var portableLimits = []ratelimit.Limit{
	{Rate: 1, Period: time.Second, Burst: 1},
	{Rate: 10, Period: time.Second, Burst: 3},
	{Rate: 5, Period: 15 * time.Minute, Burst: 5},
	{Rate: 100, Period: time.Minute, Burst: 150},
	{Rate: 4, Period: time.Second, Burst: 1},
	{Rate: 1000, Period: time.Second, Burst: 20}, // the shortest emission allowed
}

// testMatchesFormula replays a long pseudo-random schedule on several keys and
// compares every Result with the documented formulas.
func testMatchesFormula(t *testing.T, l ratelimit.Limiter) {
	rng := rand.New(rand.NewPCG(4, 2))
	keys := []string{"g|192.0.2.1", "a|192.0.2.1", "l|192.0.2.1", "u|42", "g|2001:db8::/64", "g|192.0.2.2"}
	model := gcra{}
	now := epoch
	var sawAllowed, sawDenied, sawPartial int
	for i := range 3000 {
		k := rng.IntN(len(keys))
		key, limit := keys[k], portableLimits[k]
		if limit.Emission()%ms != 0 {
			t.Fatalf("suite bug: %v is not portable", limit)
		}
		// Mostly bursts and short gaps, sometimes a long silence.
		switch p := rng.IntN(100); {
		case p < 40:
		case p < 95:
			now = now.Add(time.Duration(rng.IntN(int(2*limit.Emission()/ms)+1)) * ms)
		default:
			now = now.Add(time.Duration(rng.IntN(3600_000)) * ms)
		}
		want := model.allow(key, limit, now)
		got := allow(t, l, key, limit, now)
		if got != want {
			t.Fatalf("call %d, %s at +%v: Allow = %s, want %s", i, key, now.Sub(epoch), resultString(got), resultString(want))
		}
		switch {
		case !want.Allowed:
			sawDenied++
		case want.Remaining < limit.Burst-1:
			sawPartial++
		default:
			sawAllowed++
		}
	}
	if sawAllowed < 100 || sawDenied < 100 || sawPartial < 100 {
		t.Fatalf("suite bug: schedule too tame: %d fresh, %d partial, %d denied", sawAllowed, sawPartial, sawDenied)
	}
}

// testWindowBound hammers a key every 10ms for 5s: the burst passes at
// once, then one request per emission interval, and no window of one Period
// holds more than Burst+Rate.
func testWindowBound(t *testing.T, l ratelimit.Limiter) {
	limit := ratelimit.Limit{Rate: 5, Period: time.Second, Burst: 3} // T = 200ms
	var passed []time.Duration
	for d := time.Duration(0); d <= 5*time.Second; d += 10 * ms {
		if allow(t, l, "g|203.0.113.50", limit, at(d)).Allowed {
			passed = append(passed, d)
		}
	}
	want := []time.Duration{0, 10 * ms, 20 * ms} // the burst
	for d := 200 * ms; d <= 5*time.Second; d += 200 * ms {
		want = append(want, d)
	}
	if !slices.Equal(passed, want) {
		t.Fatalf("requests passed at %v, want %v", passed, want)
	}
	for i, start := range passed {
		n := 0
		for _, d := range passed[i:] {
			if d < start+limit.Period {
				n++
			}
		}
		if n > limit.Burst+limit.Rate {
			t.Errorf("%d requests in the period from +%v, more than burst+rate = %d", n, start, limit.Burst+limit.Rate)
		}
	}
}

// testExpiredKeyIsNew checks that once ResetAfter has passed (exactly, or by
// far) a key starts again from a full burst.
func testExpiredKeyIsNew(t *testing.T, l ratelimit.Limiter) {
	limit := ratelimit.Limit{Rate: 5, Period: 15 * time.Minute, Burst: 5} // T = 3m
	key := "l|198.51.100.7"
	var last ratelimit.Result
	for range 5 {
		last = allow(t, l, key, limit, epoch)
	}
	if last.Remaining != 0 || last.ResetAfter != 15*time.Minute {
		t.Fatalf("after the burst: %s, want 0 remaining, reset 15m", resultString(last))
	}
	runSteps(t, l, key, limit, []step{
		// 1ms short of ResetAfter the key is nearly, not quite, whole again:
		// TAT = +18m, Remaining = floor((15m-1ms - 3m) / 3m).
		{15*time.Minute - ms, allowed(3, 3*time.Minute+ms)},
		{18 * time.Minute, allowed(4, 3*time.Minute)},         // exactly at ResetAfter: new
		{400 * 24 * time.Hour, allowed(4, 3*time.Minute)},     // after a long silence
		{400*24*time.Hour + ms, allowed(3, 6*time.Minute-ms)}, // and counting again
	})
}

// testIndependentKeys checks that exhausting one key touches no other, not
// even the same client's key in another tier.
func testIndependentKeys(t *testing.T, l ratelimit.Limiter) {
	limit := ratelimit.PerMinute(2)
	for range 2 {
		allow(t, l, "g|203.0.113.1", limit, epoch)
	}
	if r := allow(t, l, "g|203.0.113.1", limit, epoch); r.Allowed {
		t.Fatalf("third request on an exhausted key allowed: %s", resultString(r))
	}
	for _, key := range []string{"g|203.0.113.2", "a|203.0.113.1", "u|203.0.113.1", "g|203.0.113.10", "G|203.0.113.1"} {
		if r := allow(t, l, key, limit, epoch); !r.Allowed || r.Remaining != 1 {
			t.Errorf("Allow(%q) = %s, want a fresh key (allowed, 1 remaining)", key, resultString(r))
		}
	}
	if r := allow(t, l, "g|203.0.113.1", limit, epoch); r.Allowed || r.RetryAfter != 30*time.Second {
		t.Errorf("exhausted key after other keys were used: %s, want denied, retry 30s", resultString(r))
	}
}

// testDifferentLimitsPerKey checks that each call's Limit governs its key.
func testDifferentLimits(t *testing.T, l ratelimit.Limiter) {
	strict := ratelimit.PerMinute(1)
	loose := ratelimit.Limit{Rate: 5, Period: time.Second, Burst: 5}
	runSteps(t, l, "l|192.0.2.1", strict, []step{
		{0, allowed(0, time.Minute)},
		{0, denied(time.Minute, time.Minute)},
	})
	runSteps(t, l, "a|192.0.2.1", loose, []step{
		{0, allowed(4, 200*ms)},
		{0, allowed(3, 400*ms)},
		{0, allowed(2, 600*ms)},
		{0, allowed(1, 800*ms)},
		{0, allowed(0, time.Second)},
		{0, denied(200*ms, time.Second)},
	})
	runSteps(t, l, "l|192.0.2.1", strict, []step{
		{59 * time.Second, denied(time.Second, time.Second)},
	})
}

// testInvalidLimit checks that unenforceable Limits are refused with
// ErrInvalidLimit and count nothing.
func testInvalidLimit(t *testing.T, l ratelimit.Limiter) {
	bad := []ratelimit.Limit{
		{},
		{Rate: 0, Period: time.Minute, Burst: 1},
		{Rate: -1, Period: time.Minute, Burst: 1},
		{Rate: 1, Period: 0, Burst: 1},
		{Rate: 1, Period: -time.Minute, Burst: 1},
		{Rate: 1, Period: time.Minute, Burst: 0},
		{Rate: 1, Period: time.Minute, Burst: -5},
		{Rate: 2000, Period: time.Second, Burst: 1},       // emission 500µs
		{Rate: 1, Period: 400 * 24 * time.Hour, Burst: 1}, // longer than a year to refill
		{Rate: 1, Period: time.Hour, Burst: 9000},         // burst takes over a year to refill
	}
	key := "g|192.0.2.99"
	for _, limit := range bad {
		r, err := l.Allow(t.Context(), key, limit, epoch)
		if !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("Allow with %+v: error %v, want ErrInvalidLimit", limit, err)
		}
		if r.Allowed {
			t.Errorf("Allow with %+v allowed the request", limit)
		}
	}
	if r := allow(t, l, key, ratelimit.PerMinute(3), epoch); !r.Allowed || r.Remaining != 2 {
		t.Errorf("after the refused calls: %s, want a fresh key", resultString(r))
	}
}

// testConcurrentAllow races many goroutines on a few keys at one instant:
// exactly Burst requests per key pass, each seeing a different Remaining.
func testConcurrentAllow(t *testing.T, l ratelimit.Limiter) {
	const goroutines, calls, burst = 32, 40, 100
	limit := ratelimit.PerPeriod(burst, time.Hour)
	keys := []string{"g|198.51.100.1", "g|198.51.100.2", "a|198.51.100.1"}
	var mu sync.Mutex
	remaining := map[string][]int{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				key := keys[(g+i)%len(keys)]
				r, err := l.Allow(t.Context(), key, limit, epoch)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				if r.Allowed {
					mu.Lock()
					remaining[key] = append(remaining[key], r.Remaining)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, key := range keys {
		got := remaining[key]
		slices.Sort(got)
		want := make([]int, burst)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d requests allowed with Remaining %v, want exactly %d with Remaining 0..%d once each",
				key, len(got), got, burst, burst-1)
		}
	}
}

func batchLimiter(t *testing.T, l ratelimit.Limiter) ratelimit.BatchLimiter {
	t.Helper()
	b, ok := l.(ratelimit.BatchLimiter)
	if !ok {
		t.Skipf("%T does not implement BatchLimiter", l)
	}
	return b
}

// testBatchAgrees replays one random schedule through AllowBatch on some keys
// and through Allow on twin keys; every result must match.
func testBatchAgrees(t *testing.T, l ratelimit.Limiter) {
	b := batchLimiter(t, l)
	rng := rand.New(rand.NewPCG(7, 7))
	subjects := []string{"192.0.2.1", "192.0.2.2", "2001:db8::/64"}
	now := epoch
	var denials int
	for i := range 1000 {
		now = now.Add(time.Duration(rng.IntN(150)) * ms)
		n := 1 + rng.IntN(3)
		batch := make([]ratelimit.Check, n)
		single := make([]ratelimit.Check, n)
		for j := range n {
			s, lim := rng.IntN(len(subjects)), rng.IntN(3)
			batch[j] = ratelimit.Check{Key: "batch|" + strconv.Itoa(lim) + "|" + subjects[s], Limit: portableLimits[lim]}
			single[j] = ratelimit.Check{Key: "single|" + strconv.Itoa(lim) + "|" + subjects[s], Limit: portableLimits[lim]}
		}
		got := make([]ratelimit.Result, n)
		if err := b.AllowBatch(t.Context(), batch, now, got); err != nil {
			t.Fatalf("batch %d: AllowBatch: %v", i, err)
		}
		for j, c := range single {
			want := allow(t, l, c.Key, c.Limit, now)
			if got[j] != want {
				t.Fatalf("batch %d check %d (%s): AllowBatch gave %s, Allow gave %s", i, j, batch[j].Key, resultString(got[j]), resultString(want))
			}
			if !want.Allowed {
				denials++
			}
		}
	}
	if denials < 100 {
		t.Fatalf("suite bug: only %d denials in the schedule", denials)
	}
}

// testBatchCountsEarlierChecks checks that a batch does not roll back checks
// allowed before a denied one, as the middleware's tiers require.
func testBatchCountsEarlierChecks(t *testing.T, l ratelimit.Limiter) {
	b := batchLimiter(t, l)
	global, api := ratelimit.PerMinute(100), ratelimit.PerMinute(1)
	checks := []ratelimit.Check{{Key: "g|192.0.2.5", Limit: global}, {Key: "a|192.0.2.5", Limit: api}}
	results := make([]ratelimit.Result, 2)
	for i, wantAPI := range []bool{true, false, false} {
		if err := b.AllowBatch(t.Context(), checks, epoch, results); err != nil {
			t.Fatal(err)
		}
		if !results[0].Allowed || results[0].Remaining != 99-i || results[1].Allowed != wantAPI {
			t.Fatalf("batch %d: %s, %s; want global allowed with %d remaining, api allowed %t",
				i, resultString(results[0]), resultString(results[1]), 99-i, wantAPI)
		}
	}
	if r := allow(t, l, "g|192.0.2.5", global, epoch); r.Remaining != 96 {
		t.Fatalf("global after three batches: %s, want 96 remaining", resultString(r))
	}
}

// testBatchErrors checks AllowBatch's argument errors.
func testBatchErrors(t *testing.T, l ratelimit.Limiter) {
	b := batchLimiter(t, l)
	checks := []ratelimit.Check{{Key: "g|192.0.2.6", Limit: ratelimit.PerMinute(5)}, {Key: "a|192.0.2.6", Limit: ratelimit.PerMinute(5)}}
	if err := b.AllowBatch(t.Context(), checks, epoch, make([]ratelimit.Result, 1)); err == nil {
		t.Error("AllowBatch with 2 checks and room for 1 result succeeded")
	}
	checks[1].Limit = ratelimit.Limit{Rate: 1, Period: time.Minute}
	if err := b.AllowBatch(t.Context(), checks, epoch, make([]ratelimit.Result, 2)); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Errorf("AllowBatch with a zero burst: error %v, want ErrInvalidLimit", err)
	}
}
