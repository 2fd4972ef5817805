package screen

import (
	"html"
	"strings"
	"unicode/utf8"
)

// maxDecodeRounds is how many layers of encoding Value peels off: one for
// the usual single encoding, one for the double encoding (%252e, &amp;lt;)
// that slips past filters which decode once.
const maxDecodeRounds = 2

// variants returns s and its decodings, each folded: s itself, s decoded
// once, and decoded twice, skipping any that equal an earlier one.
func variants(s string) []string {
	out := []string{fold(s)}
	cur := s
	for range maxDecodeRounds {
		if !mayBeEncoded(cur) {
			break
		}
		next := decodeOnce(cur)
		if next == cur {
			break
		}
		cur = next
		if f := fold(cur); f != out[len(out)-1] {
			out = append(out, f)
		}
	}
	return out
}

// mayBeEncoded reports whether decodeOnce could change s.
func mayBeEncoded(s string) bool {
	return strings.ContainsAny(s, "%&\\")
}

// decodeOnce undoes one layer of each encoding attackers use to hide a
// payload from a filter that the application or browser later decodes:
// percent-encoding (including IIS's %uXXXX and overlong UTF-8 such as
// %c0%af), HTML character references, and JavaScript escapes.
func decodeOnce(s string) string {
	if strings.IndexByte(s, '%') >= 0 {
		s = fixOverlong(percentDecode(s))
	}
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	if strings.IndexByte(s, '\\') >= 0 {
		s = jsUnescape(s)
	}
	return s
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hexRune parses s (all hex digits) as a code point.
func hexRune(s string) (rune, bool) {
	var r rune
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// percentDecode decodes %XX and %uXXXX leniently: anything that is not a
// valid escape is kept as it is ("50% off" stays).
func percentDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			if r, ok := hexRune(s[i+2 : i+6]); ok {
				b.WriteRune(r)
				i += 5
				continue
			}
		}
		if i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fixOverlong rewrites overlong UTF-8 encodings of ASCII (C0 AE for '.',
// E0 80 AF for '/') as the ASCII byte. Go never decodes them, but old
// servers and some C libraries did, which is why the traversal lists carry
// them.
func fixOverlong(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		isCont := func(j int) bool { return j < len(s) && s[j]&0xC0 == 0x80 }
		switch {
		case (c == 0xC0 || c == 0xC1) && isCont(i+1):
			b.WriteByte((c&0x1F)<<6 | s[i+1]&0x3F)
			i++
		case c == 0xE0 && isCont(i+1) && s[i+1] < 0xA0 && isCont(i+2):
			if r := rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F); r < 0x80 {
				b.WriteByte(byte(r))
			} else {
				b.WriteRune(r)
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// jsUnescape decodes \n, \r, \t, \xXX, \uXXXX and \u{X...} escapes and
// leaves every other backslash alone (most Windows paths keep theirs).
func jsUnescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case 'n':
			b.WriteByte('\n')
			i++
			continue
		case 'r':
			b.WriteByte('\r')
			i++
			continue
		case 't':
			b.WriteByte('\t')
			i++
			continue
		case 'x', 'X':
			if i+3 < len(s) {
				if r, ok := hexRune(s[i+2 : i+4]); ok {
					b.WriteRune(r)
					i += 3
					continue
				}
			}
		case 'u', 'U':
			if i+5 < len(s) && s[i+2] != '{' {
				if r, ok := hexRune(s[i+2 : i+6]); ok {
					b.WriteRune(r)
					i += 5
					continue
				}
			}
			if i+2 < len(s) && s[i+2] == '{' {
				if end := strings.IndexByte(s[i+3:], '}'); end > 0 && end <= 6 {
					if r, ok := hexRune(s[i+3 : i+3+end]); ok && utf8.ValidRune(r) {
						b.WriteRune(r)
						i += 3 + end
						continue
					}
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fold lower-cases s and maps the look-alikes that applications, databases
// or browsers treat as their ASCII counterparts: fullwidth forms
// (U+FF01-U+FF5E), the ideographic space, slash, backslash, dot and quote
// look-alikes. NUL, other C0 controls except tab, LF and CR, and invisible
// format characters are dropped (<scr\x00ipt>, java\u200bscript:).
// Invalid UTF-8 bytes become U+FFFD.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000 || r == 0x00A0 || (r >= 0x2000 && r <= 0x200A) || r == 0x202F || r == 0x205F:
			r = ' '
		case r == 0x2215 || r == 0x2044 || r == 0x29F8:
			r = '/'
		case r == 0x2216 || r == 0x29F9 || r == 0xFE68:
			r = '\\'
		case r == 0x2024 || r == 0xFE52:
			r = '.'
		case r == 0x02BC || r == 0x2018 || r == 0x2019 || r == 0x2032:
			r = '\''
		case r == 0x201C || r == 0x201D || r == 0x2033:
			r = '"'
		case r == 0xFE64:
			r = '<'
		case r == 0xFE65:
			r = '>'
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f,
			r >= 0x200B && r <= 0x200F, r >= 0x2060 && r <= 0x2064, r == 0xFEFF, r == 0x00AD:
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
