package screen

import (
	"regexp"
	"strings"
)

// shellCommands are programs that injected commands run. A separator
// followed by one of them counts only when an argument that looks like
// shell (a flag, a path, a variable, a redirection, an address) follows,
// because most of these are also English words ("; cat knocked it over").
var shellCommands = setOf(
	"cat", "ls", "id", "whoami", "uname", "nc", "ncat", "netcat", "wget", "curl", "bash", "sh", "zsh", "ksh", "csh", "tcsh",
	"dash", "python", "python2", "python3", "perl", "ruby", "php", "node", "nslookup", "dig", "ping", "sleep", "echo",
	"rm", "chmod", "chown", "mkfifo", "telnet", "ssh", "scp", "ftp", "tftp", "powershell", "pwsh", "cmd", "cmd.exe",
	"net", "ipconfig", "ifconfig", "systeminfo", "type", "dir", "find", "xterm", "busybox", "base64", "env", "printenv",
	"kill", "killall", "reboot", "useradd", "crontab", "nohup", "awk", "sed", "tail", "head", "more", "less", "grep",
	"touch", "mv", "cp", "tar", "socat", "openssl", "hostname", "ps", "netstat", "sudo", "su", "exec", "eval", "xxd",
	"od", "dd", "mail", "nmap", "certutil", "wmic", "reg", "bitsadmin", "mshta", "rundll32", "regsvr32", "cscript",
	"wscript", "timeout", "start", "del", "copy", "pwd", "netsh",
)

// bareCommands are harmless-looking alone but are exactly what a probe
// sends ("; id", "| whoami"), and are not English words, except "id".
var bareCommands = setOf("id", "whoami", "uname", "ls", "pwd", "ifconfig", "ipconfig", "systeminfo", "netstat", "printenv", "hostname", "dir", "netsh")

// netCommands take a host name as their argument ("; nslookup evil.example").
var netCommands = setOf("nslookup", "dig", "ping", "nc", "ncat", "netcat", "curl", "wget", "telnet", "ssh", "ftp", "tftp", "host")

// hostArg is a dotted host name.
var hostArg = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)+\b`)

// subcommands make a plain word after some commands a Windows probe:
// "& net user", "| reg add", "; netsh firewall".
var subcommands = map[string]map[string]bool{
	"net":   setOf("user", "users", "localgroup", "group", "share", "view", "use", "session", "start", "stop", "accounts"),
	"reg":   setOf("add", "delete", "query", "save", "export", "import"),
	"netsh": setOf("firewall", "advfirewall", "interface", "wlan", "winhttp", "http"),
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// shellArg matches the start of an argument that reads as shell rather than
// prose: a flag, a path, a variable, a redirection or pipe, a quote, a
// Windows drive, an IP address or URL, chmod modes, or a lone number at the
// end ("; sleep 5").
var shellArg = regexp.MustCompile(`^(-{1,2}[a-z0-9]|[/~$*><|` + "`" + `'"\\%]|\.{1,2}/|[a-z]:[\\/]|\d{1,3}(\.\d{1,3}){3}|(https?|ftp)://|\+x\b|[0-7]{3,4}\b|\d+\s*($|[;|&]))`)

// binPrefix is an absolute path to a binary directory.
var binPrefix = regexp.MustCompile(`^/(usr/)?(local/)?s?bin/`)

// chainedCommand reports a shell separator (; | || && & newline) followed
// by a command invocation.
func chainedCommand(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ';' && c != '|' && c != '&' && c != '\n' && c != '\r' {
			continue
		}
		weak := c == '&' && (i+1 >= len(s) || s[i+1] != '&') && (i == 0 || s[i-1] != '&')
		j := i + 1
		for j < len(s) && (s[j] == c || s[j] == ' ' || s[j] == '\t') {
			j++
		}
		rest := s[j:]
		i = j - 1 // the run of separators and blanks is consumed: stay linear
		if binPrefix.MatchString(rest) {
			return true
		}
		k := 0
		for k < len(rest) && (isWordByte(rest[k]) || rest[k] == '.' || rest[k] == '-') {
			k++
		}
		word := strings.TrimRight(rest[:k], ".-")
		if !shellCommands[word] {
			continue
		}
		after := rest[len(word):]
		trimmed := strings.TrimLeft(after, " \t")
		if trimmed == "" || strings.IndexByte(";|&`)<>\n\r", trimmed[0]) >= 0 {
			if bareCommands[word] && !(weak && word == "id") {
				return true
			}
			continue
		}
		if len(trimmed) == len(after) {
			continue // "catalogue": the word runs on
		}
		if shellArg.MatchString(trimmed) {
			return true
		}
		if netCommands[word] && hostArg.MatchString(trimmed) {
			return true
		}
		if subs := subcommands[word]; subs != nil {
			sub, _, _ := strings.Cut(trimmed, " ")
			if subs[sub] {
				return true
			}
		}
	}
	return false
}

// backtickCommand reports `command ...` substitution.
func backtickCommand(s string) bool {
	for {
		open := strings.IndexByte(s, '`')
		if open < 0 {
			return false
		}
		end := strings.IndexByte(s[open+1:], '`')
		if end < 0 {
			return false
		}
		inner := strings.TrimSpace(s[open+1 : open+1+end])
		if binPrefix.MatchString(inner) {
			return true
		}
		word, _, _ := strings.Cut(inner, " ")
		if shellCommands[word] {
			return true
		}
		s = s[open+1+end+1:]
	}
}
