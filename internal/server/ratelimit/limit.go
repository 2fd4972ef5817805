package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidLimit is wrapped by errors about a Limit that cannot be enforced.
var ErrInvalidLimit = errors.New("invalid rate limit")

const (
	// minEmission is the shortest interval between two requests a Limit may
	// ask for (1000 requests a second per key); backends may keep time in
	// milliseconds, so nothing finer is portable.
	minEmission = time.Millisecond
	// maxBurstWindow bounds Burst × Period/Rate so time arithmetic cannot
	// overflow and a key never lives longer than this.
	maxBurstWindow = 366 * 24 * time.Hour
)

// Limit is a GCRA rate: Rate requests per Period sustained, and at most Burst
// requests at once. The zero Limit means "no limit" (a disabled tier).
//
// Over any window of length Period at most Burst+Rate requests pass (Burst
// at its start, then one every Period/Rate); a client that spreads its
// requests gets exactly Rate per Period.
type Limit struct {
	Rate   int           `json:"rate" yaml:"rate" mapstructure:"rate"`
	Period time.Duration `json:"period" yaml:"period" mapstructure:"period"`
	Burst  int           `json:"burst" yaml:"burst" mapstructure:"burst"`
}

// PerPeriod returns a Limit of n requests per period with a burst of n.
func PerPeriod(n int, period time.Duration) Limit {
	return Limit{Rate: n, Period: period, Burst: n}
}

// PerMinute returns a Limit of n requests a minute with a burst of n.
func PerMinute(n int) Limit { return PerPeriod(n, time.Minute) }

// IsZero reports whether l is the zero Limit, a disabled tier.
func (l Limit) IsZero() bool { return l == Limit{} }

// Emission is the GCRA emission interval, Period/Rate: the time one request
// costs. It is zero for an invalid Limit.
func (l Limit) Emission() time.Duration {
	if l.Rate <= 0 || l.Period <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// Validate reports why l cannot be enforced, wrapping ErrInvalidLimit.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1:
		return fmt.Errorf("%w: rate %d must be at least 1", ErrInvalidLimit, l.Rate)
	case l.Period <= 0:
		return fmt.Errorf("%w: period %v must be positive", ErrInvalidLimit, l.Period)
	case l.Burst < 1:
		return fmt.Errorf("%w: burst %d must be at least 1", ErrInvalidLimit, l.Burst)
	case l.Emission() < minEmission:
		return fmt.Errorf("%w: %d per %v is more than one request per %v", ErrInvalidLimit, l.Rate, l.Period, minEmission)
	case int64(l.Burst) > int64(maxBurstWindow/l.Emission()):
		return fmt.Errorf("%w: burst %d takes longer than %v to refill at %d per %v", ErrInvalidLimit, l.Burst, maxBurstWindow, l.Rate, l.Period)
	}
	return nil
}

// String renders l in the form ParseLimit reads: "100/1m", "5/15m",
// "100/1m burst=150", or "off" for the zero Limit.
func (l Limit) String() string {
	if l.IsZero() {
		return "off"
	}
	s := strconv.Itoa(l.Rate) + "/" + shortDuration(l.Period)
	if l.Burst != l.Rate {
		s += " burst=" + strconv.Itoa(l.Burst)
	}
	return s
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseLimit.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLimit reads "RATE/PERIOD[ burst=N]": "100/1m", "5/15m", "300/m",
// "10/1s burst=20". PERIOD is a Go duration; a bare unit ("m", "h") means one
// of it. The burst defaults to RATE. "off", "0" and "" give the zero Limit.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "off", "0", "none":
		return Limit{}, nil
	}
	bad := func(why string) (Limit, error) {
		return Limit{}, fmt.Errorf("%w %q: %s (write e.g. \"100/1m\", \"5/15m\" or \"100/1m burst=150\")", ErrInvalidLimit, s, why)
	}
	spec, burstPart, hasBurst := strings.Cut(s, " ")
	rateStr, periodStr, ok := strings.Cut(spec, "/")
	if !ok {
		return bad("missing /PERIOD")
	}
	rate, err := strconv.Atoi(rateStr)
	if err != nil {
		return bad("rate is not a whole number")
	}
	period, err := time.ParseDuration(periodStr)
	if err != nil {
		if period, err = time.ParseDuration("1" + periodStr); err != nil {
			return bad("period is not a duration")
		}
	}
	l := Limit{Rate: rate, Period: period, Burst: rate}
	if hasBurst {
		b, ok := strings.CutPrefix(strings.TrimSpace(burstPart), "burst=")
		if !ok {
			return bad("expected burst=N after the rate")
		}
		if l.Burst, err = strconv.Atoi(b); err != nil {
			return bad("burst is not a whole number")
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("%q: %w", s, err)
	}
	return l, nil
}

// shortDuration prints 1m0s as 1m and 1h0m0s as 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Result is the outcome of one Allow call.
type Result struct {
	// Limit is the Limit the request was checked against.
	Limit Limit
	// Allowed reports whether the request may proceed; a denied request
	// consumes nothing.
	Allowed bool
	// Remaining is how many more requests would be allowed right now
	// (0 when denied).
	Remaining int
	// RetryAfter is, when denied, how long until this request would be
	// allowed; zero when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full Burst (and may
	// be forgotten).
	ResetAfter time.Duration
}

// Limiter enforces Limits on keys. Implementations implement GCRA so every
// backend answers the same (see the package documentation), take time only
// from now (never their own clock, so tests and nodes agree), treat a key
// whose state has expired as new, and are safe for concurrent use. A key
// names one tier for one client ("g|203.0.113.9"); a backend may prefix it.
type Limiter interface {
	// Allow checks one request for key against limit at time now and, if it
	// is allowed, counts it. An invalid limit returns an error wrapping
	// ErrInvalidLimit; a backend failure returns its error.
	Allow(ctx context.Context, key string, limit Limit, now time.Time) (Result, error)
}

// Check is one key and Limit for BatchLimiter.
type Check struct {
	Key   string
	Limit Limit
}

// BatchLimiter is a Limiter that can check several keys in one round trip
// (a Redis pipeline or script); the middleware uses it when available.
type BatchLimiter interface {
	Limiter
	// AllowBatch is Allow for each check in order, writing results[i] for
	// checks[i] (len(results) must equal len(checks), so the hot path need
	// not allocate). A check allowed before another is denied is still
	// counted, exactly as with separate calls.
	AllowBatch(ctx context.Context, checks []Check, now time.Time, results []Result) error
}
