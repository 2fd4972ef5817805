package ui

import (
	"fmt"
	"time"
)

// Time formats t for a table: relative ("3 minutes ago") on a terminal,
// RFC 3339 in UTC when piped, so scripts can parse it.
func (s *IOStreams) Time(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	if !s.IsStdoutTTY() {
		return t.UTC().Format(time.RFC3339)
	}
	return Relative(t, now)
}

// Relative describes t relative to now in words.
func Relative(t, now time.Time) string {
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s %s", unit, suffix)
		}
		return fmt.Sprintf("%d %ss %s", n, unit, suffix)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d < 365*24*time.Hour:
		return plural(int(d/(30*24*time.Hour)), "month")
	default:
		return plural(int(d/(365*24*time.Hour)), "year")
	}
}
