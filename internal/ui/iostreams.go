// Package ui renders command results for people and for programs: human
// tables and text (styled only on a colour-capable terminal), JSON, YAML and
// NDJSON with stable schemas, and progress that only appears on a terminal.
//
// Commands build a typed result and hand it to a Printer; domain packages
// never import ui.
package ui

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the standard streams of a command plus what is known about
// them (terminal or not, colour allowed or not). Tests build them with Test.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	colorForbidden        bool // NO_COLOR, TERM=dumb or --no-color
	width                 int
}

// System returns the process's streams, detecting terminals and reading the
// NO_COLOR and TERM conventions from the environment.
func System() *IOStreams {
	s := &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		inTTY:  isTerminal(os.Stdin),
		outTTY: isTerminal(os.Stdout),
		errTTY: isTerminal(os.Stderr),
	}
	// NO_COLOR is honoured when set to any non-empty value (no-color.org);
	// lipgloss/termenv only honour boolean values, so check it here.
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		s.colorForbidden = true
	}
	if s.outTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.width = w
		}
	}
	return s
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Test returns streams backed by buffers, none of them a terminal.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetTTY makes the streams pretend to be (or not be) terminals; for tests.
func (s *IOStreams) SetTTY(in, out, err bool) { s.inTTY, s.outTTY, s.errTTY = in, out, err }

// SetWidth sets the terminal width used to fit tables; for tests.
func (s *IOStreams) SetWidth(w int) { s.width = w }

// DisableColor turns colour off (the --no-color flag).
func (s *IOStreams) DisableColor() { s.colorForbidden = true }

// IsStdinTTY reports whether stdin is a terminal (so a prompt can be shown).
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// ColorEnabled reports whether stdout may carry ANSI styling.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.colorForbidden }

// ErrColorEnabled reports whether stderr may carry ANSI styling.
func (s *IOStreams) ErrColorEnabled() bool { return s.errTTY && !s.colorForbidden }

// TerminalWidth is stdout's width in columns, or 80 when unknown.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	return 80
}
