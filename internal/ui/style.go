package ui

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Renderer returns a lipgloss renderer for stdout that styles only when
// colour is enabled; every style must come from it, never from lipgloss'
// global renderer, which guesses from the environment.
func (s *IOStreams) Renderer() *lipgloss.Renderer {
	return renderer(s.Out, s.ColorEnabled())
}

// ErrRenderer is Renderer for stderr.
func (s *IOStreams) ErrRenderer() *lipgloss.Renderer {
	return renderer(s.ErrOut, s.ErrColorEnabled())
}

func renderer(w interface{ Write([]byte) (int, error) }, color bool) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// Scheme holds the few styles commands use, bound to one stream.
type Scheme struct {
	Bold, Dim, Red, Yellow, Green, Cyan lipgloss.Style
}

// Scheme returns the styles for stdout.
func (s *IOStreams) Scheme() Scheme { return newScheme(s.Renderer()) }

// ErrScheme returns the styles for stderr.
func (s *IOStreams) ErrScheme() Scheme { return newScheme(s.ErrRenderer()) }

func newScheme(r *lipgloss.Renderer) Scheme {
	return Scheme{
		Bold:   r.NewStyle().Bold(true),
		Dim:    r.NewStyle().Faint(true),
		Red:    r.NewStyle().Foreground(lipgloss.Color("1")),
		Yellow: r.NewStyle().Foreground(lipgloss.Color("3")),
		Green:  r.NewStyle().Foreground(lipgloss.Color("2")),
		Cyan:   r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

// Successf prints a one-line success message on stderr after a green tick.
// The message is sanitized whole, so it may carry names from the outside
// (paths, object keys, e-mail addresses); it must be a single line.
func (s *IOStreams) Successf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "%s %s\n", s.ErrScheme().Green.Render("✓"), Sanitize(fmt.Sprintf(format, args...)))
}

// Sanitize escapes control characters (ANSI escapes, carriage returns, bells,
// newlines) in untrusted text before it reaches a terminal, so a crafted
// audit entry, object key or file name cannot rewrite the screen.
func Sanitize(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !isControl(r) {
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x100 {
				b.WriteString(`\x`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&0xf])
			} else {
				b.WriteString(`\u`)
				for shift := 12; shift >= 0; shift -= 4 {
					b.WriteByte("0123456789abcdef"[(r>>uint(shift))&0xf])
				}
			}
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	// Cc covers C0, DEL and C1 (which includes the 8-bit CSI, U+009B);
	// bidi overrides can reorder what a reader sees.
	return unicode.Is(unicode.Cc, r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
