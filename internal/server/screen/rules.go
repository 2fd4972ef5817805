package screen

import (
	"regexp"
	"strings"
)

// view is one rendering of a folded variant that rules match against.
type view int

const (
	// plainView collapses runs of spaces and tabs; newlines stay, as they
	// separate shell commands.
	plainView view = iota
	// sqlView also turns newlines and SQL block comments into spaces
	// (UNION/**/SELECT, /*!50000SELECT*/).
	sqlView
	// compactView drops tabs and line breaks, which browsers remove from
	// URLs (java\tscript: is javascript: to a browser).
	compactView
	numViews
)

// views is the set of renderings of one variant.
type views [numViews]string

func render(v string) views {
	var out views
	out[plainView] = collapse(v, false)
	sql := v
	if strings.Contains(sql, "/*") || strings.Contains(sql, "*/") {
		sql = sqlComment.ReplaceAllString(sql, " ")
	}
	out[sqlView] = collapse(sql, true)
	out[compactView] = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
	return out
}

var sqlComment = regexp.MustCompile(`/\*!?[0-9]*|\*/`)

// collapse turns each run of spaces and tabs (and, when newlines is set,
// CR and LF) into one space.
func collapse(s string, newlines bool) string {
	isSpace := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\f' || c == '\v' || newlines && (c == '\n' || c == '\r')
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) {
			if !prev {
				b.WriteByte(' ')
			}
			prev = true
			continue
		}
		prev = false
		b.WriteByte(c)
	}
	return b.String()
}

// rule is one pattern of one category.
type rule struct {
	id  string
	cat Category
	in  view
	// need lists substrings of which at least one must occur before the
	// (slower) match runs; empty means always run.
	need []string
	// at, when set, lists the bytes at which re (anchored with ^) is
	// tried, instead of scanning the whole string: "'" for the quote
	// rules. It keeps the common case, a string with one apostrophe, cheap.
	at    string
	re    *regexp.Regexp
	match func(string) bool
}

func (r *rule) matches(vs *views) bool {
	s := vs[r.in]
	if len(r.need) > 0 {
		found := false
		for _, n := range r.need {
			if strings.Contains(s, n) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	switch {
	case r.at != "":
		for i := 0; i < len(s); i++ {
			j := strings.IndexAny(s[i:], r.at)
			if j < 0 {
				return false
			}
			i += j
			if r.re.MatchString(s[i:]) {
				return true
			}
		}
		return false
	case r.re != nil:
		return r.re.MatchString(s)
	}
	return r.match(s)
}

// Fragments shared by several patterns.
const (
	// quoteClose is a string literal being closed, optionally with the
	// parentheses of the query around it: ' or ') or ")); rules using it
	// are tried at each quote (at: quotes).
	quoteClose = `^['"]\s*\)*\s*`
	quotes     = `'"`
	// sqlFuncs are functions that only show up in SQL being probed.
	sqlFuncs = `sleep|benchmark|pg_sleep|randomblob|ascii|substring|substr|mid|char|ord|length|count|database|user|version|if|exists|not|extractvalue|updatexml|convert|cast|rand|concat|load_file`
)

var rules = []rule{
	// ---- SQL injection ---------------------------------------------------
	{id: "sqli-union-select", cat: SQLInjection, in: sqlView, need: []string{"union"},
		re: regexp.MustCompile(`\bunion(\s+(all|distinct))?[\s(]*select\b`)},
	{id: "sqli-stacked-query", cat: SQLInjection, in: sqlView, at: ";",
		re: regexp.MustCompile(`^;\s*(` +
			`drop\s+(table|database|schema|view|user|index|procedure|function)\s|` +
			`delete\s+from\s+\S+\s*(where\b|--|#|;)|` +
			`insert\s+into\s+[\w.\[\]"` + "`" + `]+\s*(\(|values\b|select\b)|` +
			`update\s+[\w.\[\]"` + "`" + `]+\s+set\s+[\w.\[\]"` + "`" + `]+\s*=|` +
			`truncate\s+table\s|alter\s+(table|user|database)\s|` +
			`create\s+(table|user|database|procedure|function|trigger)\s|` +
			`exec(ute)?(\s+|\()(xp_|sp_|master\.)|` +
			`shutdown\s*(--|#|;|/\*|$|with\b)|declare\s+@|waitfor\s+delay\b|` +
			`select\s+(\*|null\b|@@|\d+\s*(,|--|#|$|from\b)|(` + sqlFuncs + `)\s*\())`)},
	{id: "sqli-quote-boolean", cat: SQLInjection, in: sqlView, at: quotes,
		re: regexp.MustCompile(quoteClose + `(or|and|xor|\|\||&&)\s*\(*\s*(` +
			`('[^']*'|"[^"]*"|[\w.@]+)\)*\s*(=|<>|!=|<=?|>=?|\blike\b|\bregexp\b|\brlike\b|\bbetween\b|\bin\s*\(|\bis\s+(not\s+)?null\b)|` +
			`''|""|` +
			`(true|false|null|\d+)\s*(--|#|/\*|;|\)|$)|` +
			`select\b|(` + sqlFuncs + `)\s*\()`)},
	{id: "sqli-quote-comment", cat: SQLInjection, in: plainView, at: quotes,
		re: regexp.MustCompile(quoteClose + `(--[\s+-]*$|#\s*$|/\*)`)},
	{id: "sqli-quote-clause", cat: SQLInjection, in: sqlView, at: quotes,
		re: regexp.MustCompile(quoteClose + `((order|group)\s+by\s+\d|having\s+\d|limit\s+\d|procedure\s+analyse|into\s+(out|dump)file\b|;\s*(--|#))`)},
	{id: "sqli-quote-concat-subquery", cat: SQLInjection, in: sqlView, need: []string{"select"}, at: quotes,
		re: regexp.MustCompile(`^['"]\s*(\|\||\+|&)\s*\(\s*select\b`)},
	{id: "sqli-quote-operator", cat: SQLInjection, in: sqlView, match: quoteOperator},
	{id: "sqli-inline-comment", cat: SQLInjection, in: plainView, need: []string{"/*"},
		re: regexp.MustCompile(`\b(select|union|from|where|or|and|insert|update|delete|drop|into|values|order|group)\s*/\*.*?\*/`)},
	{id: "sqli-tautology", cat: SQLInjection, in: sqlView, need: []string{"or", "and", "having"},
		match: tautology},
	{id: "sqli-function", cat: SQLInjection, in: sqlView,
		need: []string{"sleep(", "benchmark", "pg_sleep", "randomblob", "order", "if", "waitfor", "load_file", "outfile", "dumpfile", "information_schema",
			"xp_cmdshell", "@@version", "extractvalue", "updatexml", "utl_inaddr", "dbms_pipe", "sysobjects", "sqlite_master", "pg_shadow", "mysql.user"},
		re: regexp.MustCompile(`\border\s+by\s+\d+\s*(--|#)[\s-]*$|\bif\s*\(\s*\d+\s*=\s*\d+|\bsleep\(\s*\d|\bbenchmark\s*\(\s*\d|\bpg_sleep\s*\(|\brandomblob\s*\(|\bwaitfor\s+delay\s+['"]|\bload_file\s*\(|` +
			`\binto\s+(out|dump)file\b|\binformation_schema\b|\bxp_cmdshell\b|@@version\b|\bextractvalue\s*\(|\bupdatexml\s*\(|` +
			`\butl_inaddr\b|\bdbms_pipe\b|\bsysobjects\b|\bsqlite_master\b|\bpg_shadow\b|\bmysql\.user\b`)},

	// ---- Cross-site scripting -------------------------------------------
	{id: "xss-script-tag", cat: XSS, in: plainView, need: []string{"<"},
		re: regexp.MustCompile(`<\s*/?\s*script\b`)},
	{id: "xss-event-handler", cat: XSS, in: plainView, need: []string{"on"},
		re: regexp.MustCompile(`<[a-z][^>]*[\s/"'` + "`" + `]on[a-z]{3,}\s*=`)},
	{id: "xss-attribute-breakout", cat: XSS, in: plainView, need: []string{"on"}, at: quotes + "`",
		re: regexp.MustCompile(`^['"` + "`" + `]\s*/?\s*on[a-z]{3,}\s*=`)},
	{id: "xss-script-uri", cat: XSS, in: compactView, need: []string{"script:", "data:"},
		re: regexp.MustCompile(`(^|[\s"'=(` + "`" + `,;:>])(java|vb|live)script:|\bdata:(text/html|image/svg\+xml|application/(x-)?(java|ecma)script|text/(java|ecma)script)`)},
	{id: "xss-dangerous-tag", cat: XSS, in: plainView, need: []string{"<"},
		re: regexp.MustCompile(`<\s*/?\s*(iframe|frame|frameset|object|embed|applet|meta|base|link|svg|math|style|form|isindex|xml|template|noscript|portal)\b`)},
	{id: "xss-js-call", cat: XSS, in: plainView,
		need: []string{"alert", "prompt", "confirm", "eval", "fromcharcode", "document.", "window.", "constructor", "innerhtml", "settimeout", "setinterval"},
		re: regexp.MustCompile(`\b(alert|prompt|confirm)(` + "`" + `|\(\s*(['"` + "`" + `\d/]|[a-z_$][\w$.]*\s*[)(,]))|\beval\(|\bstring\.fromcharcode\s*\(|\bdocument\.(cookie|domain|write|location)\b|` +
			`\bwindow\.location\s*=|constructor\.constructor|\.innerhtml\s*=|\bset(timeout|interval)\s*\(\s*['"` + "`" + `]`)},
	{id: "xss-utf7", cat: XSS, in: plainView, need: []string{"+adw-"},
		re: regexp.MustCompile(`\+adw-\s*/?\s*(script|img|svg|iframe|body|a\s|style|meta)`)},
	{id: "xss-css-expression", cat: XSS, in: plainView, need: []string{"expression", "binding", "behavior", "@import"},
		re: regexp.MustCompile(`:\s*expression\s*\(|-moz-binding\s*:|\bbehavior\s*:\s*url|@import\b`)},

	// ---- OS command injection -------------------------------------------
	{id: "cmd-substitution", cat: CommandInjection, in: plainView, need: []string{"$(", "${", "$ifs"},
		re: regexp.MustCompile(`\$\(\s*[a-z_/.]|\$\{\s*ifs\s*\}|\$ifs\b|\$\{\s*[a-z_]+\s*:\s*\d`)},
	{id: "cmd-backtick", cat: CommandInjection, in: plainView, need: []string{"`"},
		match: backtickCommand},
	{id: "cmd-chained", cat: CommandInjection, in: plainView, need: []string{";", "|", "&", "\n", "\r"},
		match: chainedCommand},
	{id: "cmd-shell", cat: CommandInjection, in: plainView,
		need: []string{"/dev/", "-i", "bin/", "cmd", "powershell", "iex", "invoke-expression", "-c ", "-e ", "-r ", "rm ", "chmod", "mkfifo", "sh", ">", "(", "/?", "/*", "<!--", "<?", "${", "{$"},
		re: regexp.MustCompile(`/dev/(tcp|udp)/|\b(ba|z|k|c|da)?sh\s+-i\b|/(usr/)?(local/)?s?bin/(ba|z|k|c|da)?sh\b|\bcmd(\.exe)?\s+/[ck]\b|` +
			`\bpowershell(\.exe)?\s+-(enc|e|c|nop|noprofile|w|ep|exec|command)\b|\biex\s*\(|\binvoke-expression\b|` +
			`\bpython[23]?\s+-c\s|\bperl\s+-e\s|\bphp\s+-r\s|\bruby\s+-e\s|\brm\s+-[rf]{1,2}\s+[/~*]|\bchmod\s+(\+x|[0-7]{3,4})\s|\bmkfifo\b|` +
			`\b(wget|curl)\s[^|]*\|\s*(ba|z|k|da)?sh\b|(^|[^-=>])>{1,2}\s*/(tmp|var|etc|dev|home|root|usr|bin|www|srv|opt)/|` +
			`\b(system|passthru|shell_exec|popen|proc_open|exec)\s*\(\s*['"` + "`" + `]|/[?*]{2,}[a-z?*]*/|<!--\s*#\s*(exec|include)\b|` +
			`\(\)\s*\{\s*:\s*;\s*\}\s*;|<\?php\b|\bphpinfo\s*\(\s*\)|\{\$\{|\$\{@`)},

	// ---- Path traversal ---------------------------------------------------
	{id: "path-dot-dot", cat: PathTraversal, in: plainView, need: []string{".."},
		re: regexp.MustCompile(`\.\.[/\\]|\.\.;[/\\]|[/\\]\.\.([/\\?#;]|$)|^\.\.$`)},
	{id: "path-sensitive-file", cat: PathTraversal, in: plainView,
		need: []string{"/etc/", "/proc/", ":\\", ":/", ".ini", "system32", "-inf", "file:", "/root/", ".ssh", ".ht", "/var/log/"},
		re: regexp.MustCompile(`/etc/(passwd|shadow|group|hosts|sudoers|issue|crontab)\b|/proc/(self|\d+)/|\b[a-z]:[\\/]+(windows|winnt|boot\.ini|inetpub)\b|` +
			`\b(win|system|boot)\.ini\b|\bsystem32[\\/]|\b(web|meta)-inf[\\/]|^file:|[^a-z]file:/|/root/|\.ssh[\\/]|\.ht(passwd|access)\b|` +
			`/var/log/|\b(php|phar|zip|expect|glob)://`)},
}

// tautologyRE reads "or X = Y" / "and X = Y" at the start of its input;
// tautology then decides whether the comparison is one an attacker would
// write.
var tautologyRE = regexp.MustCompile(`^(or|and|xor|having)\s+\(*\s*('[^']*'|"[^"]*"|[\w.]+)\s*(=|==|<>|!=|\blike\b)\s*('[^']*'?|"[^"]*"?|[\w.]+)`)

// quoteOperatorRE is a quote, = or ||, and a quote: '=' and '||' log in
// as the first user where a query glues the input between quotes.
var quoteOperatorRE = regexp.MustCompile(`^['"]\s*(=|\|\|)\s*['"]`)

// quoteOperator matches quoteOperatorRE at a quote that starts the input
// or follows a word ("admin'='"), not one that follows a space (the "="
// sign).
func quoteOperator(s string) bool {
	for i := 0; i < len(s); i++ {
		j := strings.IndexAny(s[i:], quotes)
		if j < 0 {
			return false
		}
		i += j
		if (i == 0 || isWordByte(s[i-1])) && quoteOperatorRE.MatchString(s[i:]) {
			return true
		}
	}
	return false
}

// wordStarts calls fn with s from each place where one of words starts
// as a whole word, until fn returns true.
func wordStarts(s string, words []string, fn func(rest string) bool) bool {
	for _, w := range words {
		for i := 0; ; {
			j := strings.Index(s[i:], w)
			if j < 0 {
				break
			}
			i += j
			end := i + len(w)
			if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) && fn(s[i:]) {
				return true
			}
			i++
		}
	}
	return false
}

var commentAfter = regexp.MustCompile(`^\s*(--|#|/\*)`)

// tautology matches a boolean condition whose operands are both numbers
// (or 1=1, and 1=2) or the same literal (or 'a'='a), and "or true--".
func tautology(s string) bool {
	return wordStarts(s, []string{"or", "and", "xor", "having"}, func(rest string) bool {
		if m := tautologyRE.FindStringSubmatch(rest); m != nil {
			left, right := unquote(m[2]), unquote(m[4])
			if isNumber(left) && isNumber(right) || left == right {
				return true
			}
		}
		_, after, _ := strings.Cut(rest, " ")
		for _, lit := range []string{"true", "false", "1", "0"} {
			if strings.HasPrefix(after, lit) && commentAfter.MatchString(after[len(lit):]) {
				return true
			}
		}
		return false
	})
}

func unquote(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'")
	return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c >= 0x80
}
