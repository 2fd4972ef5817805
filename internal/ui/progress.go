package ui

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar on stderr while long work runs. It
// draws only when stderr is a terminal and the command prints a human format,
// at most ten times a second; otherwise every method is a no-op, and the
// command prints its one summary line when done.
type Progress struct {
	io      *IOStreams
	label   string
	total   int64
	enabled bool
	now     func() time.Time

	mu       sync.Mutex
	done     int64
	lastDraw time.Time
	drawn    bool
}

// redrawEvery limits redraws: faster is flicker, and slow terminals lag.
const redrawEvery = 100 * time.Millisecond

// NewProgress starts a progress bar for total units (bytes, files; 0 when
// unknown). human says whether the command's output format is for people.
func NewProgress(s *IOStreams, label string, total int64, human bool) *Progress {
	return &Progress{io: s, label: label, total: total, enabled: human && s.IsStderrTTY(), now: time.Now}
}

// Add records n more units of work done.
func (p *Progress) Add(n int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if now := p.now(); now.Sub(p.lastDraw) >= redrawEvery {
		p.lastDraw = now
		p.draw()
	}
}

// Done clears the bar.
func (p *Progress) Done() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.io.ErrOut, "\r\x1b[2K")
		p.drawn = false
	}
}

func (p *Progress) draw() {
	p.drawn = true
	if p.total <= 0 {
		fmt.Fprintf(p.io.ErrOut, "\r\x1b[2K%s %d", p.label, p.done)
		return
	}
	frac := float64(p.done) / float64(p.total)
	frac = min(max(frac, 0), 1)
	const width = 30
	filled := int(frac * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.io.ErrOut, "\r\x1b[2K%s [%s] %3.0f%% (%d/%d)", p.label, bar, frac*100, p.done, p.total)
}
