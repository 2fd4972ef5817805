// Package ratelimittest is the conformance suite of ratelimit backends: every
// ratelimit.Limiter and ratelimit.Blocker, the memory ones and the Redis
// ones, must pass RunLimiter and RunBlocker.
//
// The suites pass every time themselves, starting from a fixed epoch and in
// whole milliseconds (all a backend must resolve), so they are deterministic
// and instant. A backend's own clock (a Redis TTL) may make state disappear
// later than the now arguments say, never earlier.
//
// Each subtest calls the constructor once and expects an empty backend; give
// a shared server a fresh key prefix or database on every call.
package ratelimittest

import (
	"fmt"
	"time"

	"github.com/repairx/repairxctl/internal/server/ratelimit"
)

// epoch is the suites' time zero: whole milliseconds, far from the zero Time
// so nanosecond arithmetic cannot overflow, and not "now", so a backend that
// reads its own clock fails.
var epoch = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

// at is epoch plus d.
func at(d time.Duration) time.Time { return epoch.Add(d) }

// resultString prints a Result compactly for failure messages.
func resultString(r ratelimit.Result) string {
	return fmt.Sprintf("{allowed %t remaining %d retry %v reset %v limit %v}",
		r.Allowed, r.Remaining, r.RetryAfter, r.ResetAfter, r.Limit)
}
