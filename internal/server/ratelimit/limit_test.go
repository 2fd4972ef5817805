package ratelimit_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in     string
		want   ratelimit.Limit
		String string
	}{
		{"100/1m", ratelimit.PerMinute(100), "100/1m"},
		{"5/15m", ratelimit.PerPeriod(5, 15*time.Minute), "5/15m"},
		{"300/m", ratelimit.PerMinute(300), "300/1m"},
		{"1/h", ratelimit.PerPeriod(1, time.Hour), "1/1h"},
		{"2/24h", ratelimit.PerPeriod(2, 24*time.Hour), "2/24h"},
		{"60/1h30m", ratelimit.PerPeriod(60, 90*time.Minute), "60/1h30m"},
		{"10/500ms", ratelimit.PerPeriod(10, 500*time.Millisecond), "10/500ms"},
		{"10/90s", ratelimit.PerPeriod(10, 90*time.Second), "10/1m30s"},
		{"10/1s burst=20", ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 20}, "10/1s burst=20"},
		{"100/1m burst=1", ratelimit.Limit{Rate: 100, Period: time.Minute, Burst: 1}, "100/1m burst=1"},
		{"100/1m burst=100", ratelimit.PerMinute(100), "100/1m"},
		{"  7/2s  ", ratelimit.PerPeriod(7, 2*time.Second), "7/2s"},
		{"7/2s  burst=3", ratelimit.Limit{Rate: 7, Period: 2 * time.Second, Burst: 3}, "7/2s burst=3"},
		{"1000/1s", ratelimit.PerPeriod(1000, time.Second), "1000/1s"},
		{"off", ratelimit.Limit{}, "off"},
		{"OFF", ratelimit.Limit{}, "off"},
		{"none", ratelimit.Limit{}, "off"},
		{"0", ratelimit.Limit{}, "off"},
		{"", ratelimit.Limit{}, "off"},
	}
	for _, tt := range tests {
		got, err := ratelimit.ParseLimit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.String {
			t.Errorf("ParseLimit(%q).String() = %q, want %q", tt.in, s, tt.String)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"100", "missing /PERIOD"},
		{"x/1m", "rate is not a whole number"},
		{"1.5/1m", "rate is not a whole number"},
		{"100/x", "period is not a duration"},
		{"100/1", "period is not a duration"},
		{"100/", "period is not a duration"},
		{"100/1m burst", "expected burst=N"},
		{"100/1m extra", "expected burst=N"},
		{"100/1m burst=x", "burst is not a whole number"},
		{"100/1m burst=5 x", "burst is not a whole number"},
		{"0/1m", "rate 0 must be at least 1"},
		{"-1/1m", "rate -1 must be at least 1"},
		{"100/0s", "period 0s must be positive"},
		{"100/-1m", "period -1m0s must be positive"},
		{"10/1m burst=0", "burst 0 must be at least 1"},
		{"2000/1s", "more than one request per 1ms"},
		{"1/1h burst=9000", "takes longer than"},
	}
	for _, tt := range tests {
		l, err := ratelimit.ParseLimit(tt.in)
		if !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("ParseLimit(%q) = %+v, %v; want an ErrInvalidLimit", tt.in, l, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, `"`+tt.in+`"`) {
			t.Errorf("ParseLimit(%q) error %q, want it to quote the input and say %q", tt.in, msg, tt.want)
		}
		if l != (ratelimit.Limit{}) {
			t.Errorf("ParseLimit(%q) returned %+v with its error", tt.in, l)
		}
	}
}

// TestLimitText checks the encoding.Text(Un)Marshaler pair, which is how a
// Policy travels through JSON, YAML and configuration files.
func TestLimitText(t *testing.T) {
	p := ratelimit.DefaultPolicy()
	p.Global = ratelimit.Limit{Rate: 100, Period: time.Minute, Burst: 150}
	p.User = ratelimit.Limit{}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"global":"100/1m burst=150"`, `"api":"60/1m"`, `"auth":"5/15m"`, `"user":"off"`, `"fail_closed":["auth"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back ratelimit.Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Global != p.Global || back.API != p.API || back.Auth != p.Auth || back.User != p.User || back.Block != p.Block {
		t.Errorf("round trip: %+v, want %+v", back, p)
	}
	var l ratelimit.Limit
	if err := l.UnmarshalText([]byte("5/0s")); !errors.Is(err, ratelimit.ErrInvalidLimit) || l != (ratelimit.Limit{}) {
		t.Errorf("UnmarshalText of an invalid limit: %+v, %v", l, err)
	}
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"100/1m", "5/15m", "300/m", "10/1s burst=20", "off", "0", "", "1/h", "60/1h30m",
		"+5/1m burst=+5", "1000/1s", "2000/1s", "1/1h burst=8784", "1/1h burst=8785", "5/.5m", "5/1m0s", "9/1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrInvalidLimit) || l != (ratelimit.Limit{}) {
				t.Fatalf("ParseLimit(%q) = %+v, %v", s, l, err)
			}
			return
		}
		if !l.IsZero() {
			if err := l.Validate(); err != nil {
				t.Fatalf("ParseLimit(%q) accepted %+v: %v", s, l, err)
			}
		}
		text, err := l.MarshalText()
		if err != nil || string(text) != l.String() {
			t.Fatalf("MarshalText(%+v) = %q, %v; String is %q", l, text, err, l.String())
		}
		var back ratelimit.Limit
		if err := back.UnmarshalText(text); err != nil || back != l {
			t.Fatalf("ParseLimit(%q) = %+v, printed %q, read back as %+v, %v", s, l, text, back, err)
		}
		if again := back.String(); again != string(text) {
			t.Fatalf("String is not stable: %q then %q", text, again)
		}
	})
}
