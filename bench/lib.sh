# lib.sh: helpers the bench/ scripts share. Source it after `cd` to the
# repository root; log lines carry the sourcing script's name.

# log MSG...: a time-stamped progress line on stderr.
log() { printf '%s %s: %s\n' "$(date +%T)" "${0##*/}" "$*" >&2; }
# die MSG...: logs and exits 1 (the EXIT trap cleans up).
die() { log "$*"; exit 1; }

# free_port prints a port nothing listens on (a race with other programs is
# possible but harmless: the server then fails to start and we say so).
free_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}
