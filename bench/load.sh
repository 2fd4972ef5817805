#!/usr/bin/env bash
# load.sh: requests per second and latency of `repairxctl serve` over HTTPS
# (TLS 1.3, HTTP/1.1 keep-alive), beside a bare net/http handler with the
# same TLS configuration and certificate, in the same run; on the embedded
# setup and on PostgreSQL + Redis; then serve's memory under a flood of
# distinct client addresses sent through a trusted proxy's X-Forwarded-For.
# Prints Markdown tables for docs/benchmarks.md on stdout, progress on stderr.
#
# Usage: bash bench/load.sh [--duration 15s] [--runs 3] [--concurrency 32] [--warmup 2s]
#                           [--flood "100000 200000 1000000"] [--settle 130] [--no-pg] [--no-wrk] [--quiet-wait 120]
#   --duration D      measured time of each throughput case (default 15s)
#   --runs N          rounds of the throughput cases, interleaved (bare, live, me, bare, ...);
#                     the table shows medians (default 3)
#   --concurrency C   workers, one keep-alive connection each (default 32)
#   --warmup W        unrecorded warm-up before each case (default 2s)
#   --flood LIST      distinct client addresses of each flood (default "100000 200000 1000000"; "" skips)
#   --settle S        seconds serve idles after a flood before the last memory sample (default 130:
#                     past the limiter's 1-minute sweep and the Go runtime's 2-minute forced GC)
#   --no-pg           skip the PostgreSQL + Redis setup
#   --no-wrk          skip the cross-check with wrk (Debian), run when wrk is installed
#   --quiet-wait S    before each measured run, wait up to S seconds (default 120) for the rest of
#                     the machine to use less than 30% of a core; then measure anyway, and say so
#
# The load generator is bench/load (Go): `load run` prints one JSON result per
# case, `load bare` is the bare server. A case whose requests failed or
# answered another status than 2xx is printed with a warning sign and makes
# the script exit 3 after the tables.
#
# Every measured run holds an exclusive flock on $BENCH_LOCK (default
# /tmp/bench.lock), so benchmarks sharing the machine never measure at the
# same time; set-up and idle phases run outside it. The CPU time the rest
# of the machine used during each run is reported beside it.
#
# Like internal/testenv it starts its own throwaway servers on 127.0.0.1 and
# random ports in a temporary directory (Debian's PostgreSQL 15 run as the
# postgres user when root, redis-server), and stops them and removes the
# directory on exit. About 15 minutes on 2 cores with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=15s concurrency=32 warmup=2s floods="100000 200000 1000000" settle=130 with_pg=1 with_wrk=1 quiet_max=120 runs=3
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--concurrency) concurrency=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--flood) floods=$2; shift 2 ;;
	--settle) settle=$2; shift 2 ;;
	--no-pg) with_pg=0; shift ;;
	--no-wrk) with_wrk=0; shift ;;
	--quiet-wait) quiet_max=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "load.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

readonly PG_BINDIR=/usr/lib/postgresql/15/bin
readonly LOCK=${BENCH_LOCK:-/tmp/bench.lock}
readonly EMAIL=bench@example.test
# A throwaway account on a throwaway server; the generator reads it from the
# environment, never from its command line.
export LOAD_PASSWORD="bench password $RANDOM$RANDOM"
# Limits for the throughput cases: the limiter runs every check and counts
# every request, but 1000/s with a burst of 10^9 never refuses one.
readonly HIGH_LIMIT="1000/1s burst=1000000000"

# log, die, free_port
# shellcheck source=bench/lib.sh
. bench/lib.sh

# ---- prerequisites --------------------------------------------------------

for tool in curl jq flock go; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [ "$with_pg" -eq 1 ]; then
	[ -x "$PG_BINDIR/postgres" ] || die "PostgreSQL 15 not found in $PG_BINDIR: run scripts/install-test-deps.sh (or pass --no-pg)"
	command -v redis-server >/dev/null || die "redis-server not found: run scripts/install-test-deps.sh (or pass --no-pg)"
fi
[ "$with_wrk" -eq 1 ] && ! command -v wrk >/dev/null && { log "wrk not found: no cross-check (apt-get install wrk)"; with_wrk=0; }

# PostgreSQL refuses to run as root: root hands it to the postgres user.
as_pg=()
if [ "$with_pg" -eq 1 ] && [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "no postgres user (package postgresql-15)"
	as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi

# ---- clean-up: everything this script started, by pid ----------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/repairx-bench-load.XXXXXX")
chmod 755 "$work" # the postgres user must reach its directory inside
serve_pid="" bare_pid="" pg_pid="" redis_pid="" sampler_pid=""
stop_pid() { # stop_pid PID [SIGNAL]: signals PID and waits for it
	[ -n "$1" ] || return 0
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$sampler_pid"
	stop_pid "$serve_pid"
	stop_pid "$bare_pid"
	stop_pid "$redis_pid"
	# SIGINT is PostgreSQL's fast shutdown: it ends sessions and frees shared memory.
	stop_pid "$pg_pid" INT
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_until PID WHAT CMD...: polls CMD until it succeeds, PID dies, or 60 s pass.
wait_until() {
	local pid=$1 what=$2
	shift 2
	for _ in $(seq 600); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
		sleep 0.1
	done
	die "$what did not start within 60 s"
}

# ---- /proc readings ---------------------------------------------------------

# cpu_ticks PID...: user+system CPU ticks of the PIDs and their direct
# children (PostgreSQL's backends are children of the postmaster).
cpu_ticks() {
	local pid kids=() total=0 t
	for pid in "$@"; do
		kids+=("$pid")
		# shellcheck disable=SC2207
		kids+=($(cat "/proc/$pid/task/"*/children 2>/dev/null || true))
	done
	for pid in "${kids[@]}"; do
		t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || t=0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}
# busy_ticks: CPU ticks the whole machine has spent busy since boot.
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
HZ=$(getconf CLK_TCK)
readonly HZ
ticks_to_s() { awk -v t="$1" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'; }
# status_kib PID FIELD: VmRSS or VmHWM of PID in KiB.
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
# metric PORT NAME: one unlabelled sample from serve's metrics listener.
metric() { curl -sf "http://127.0.0.1:$1/api/metrics" | awk -v n="$2" '$1 == n {printf "%.0f", $2}'; }

# ---- the servers -------------------------------------------------------------

# write_config FILE LIMIT_PROFILE [SHARED]: serve's configuration for a
# run. Profile "high": every tier at HIGH_LIMIT. Profile "flood": the
# default per-client tiers (global 100/1m, api 60/1m), so the limiter keeps
# the state a real flood leaves, and only the per-user tier (one benchmark
# user makes every request) raised. SHARED=1 adds PostgreSQL and Redis.
write_config() {
	local file=$1 profile=$2 shared=${3:-0} global api
	case $profile in
	high) global=$HIGH_LIMIT api=$HIGH_LIMIT ;;
	flood) global=100/1m api=60/1m ;;
	esac
	cat >"$file" <<-EOF
		server:
		  listen: 127.0.0.1:$api_port
		  metrics_listen: 127.0.0.1:$metrics_port
		  trusted_proxies: [127.0.0.1/32]
		auth:
		  bcrypt_cost: 10
		ratelimit:
		  global: "$global"
		  api: "$api"
		  auth: 100/1m
		  user: "$HIGH_LIMIT"
	EOF
	[ "$shared" -eq 1 ] || return 0
	cat >>"$file" <<-EOF
		database:
		  url: postgres://postgres@127.0.0.1:$pg_port/repairx?sslmode=disable
		redis:
		  url: redis://127.0.0.1:$redis_port/0
	EOF
	sed -i 's|^auth:$|auth:\n  key_encryption_key: env:BENCH_KEK|' "$file"
}

# start_serve DATA_DIR CONFIG: starts serve and waits until it answers.
start_serve() {
	"$rx" --config "$2" --data-dir "$1" serve 2>>"$1/serve.log" &
	serve_pid=$!
	wait_until "$serve_pid" serve curl -sfk "https://127.0.0.1:$api_port/api/health/live"
}
stop_serve() {
	stop_pid "$serve_pid"
	serve_pid=""
}

start_bare() { # start_bare DATA_DIR: the bare server on serve's certificate
	bare_port=$(free_port)
	"$load" bare -listen "127.0.0.1:$bare_port" -cert "$1/tls/tls.crt" -key "$1/tls/tls.key" >/dev/null 2>"$1/bare.log" &
	bare_pid=$!
	wait_until "$bare_pid" "bare server" curl -sfk "https://127.0.0.1:$bare_port/"
}
stop_bare() {
	stop_pid "$bare_pid"
	bare_pid=""
}

start_postgres() {
	local pgdir="$work/pg"
	mkdir -p "$pgdir"
	[ ${#as_pg[@]} -eq 0 ] || chown postgres:postgres "$pgdir"
	"${as_pg[@]}" "$PG_BINDIR/initdb" -D "$pgdir/data" --auth=trust --no-sync -U postgres \
		-E UTF8 --locale=C >"$pgdir/initdb.log" 2>&1 || { cat "$pgdir/initdb.log" >&2; die "initdb failed"; }
	pg_port=$(free_port)
	# internal/testenv's settings. Durability costs nothing on this read-only
	# path (an authenticated request reads one row and writes none).
	"${as_pg[@]}" "$PG_BINDIR/postgres" -D "$pgdir/data" -p "$pg_port" -k "$pgdir" \
		-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off \
		-c max_connections=200 >"$pgdir/server.log" 2>&1 &
	pg_pid=$!
	wait_until "$pg_pid" PostgreSQL "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$pg_port"
	"$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE repairx'
	pg_version=$("$PG_BINDIR/psql" -X -Atq -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'SHOW server_version')
	log "PostgreSQL $pg_version on 127.0.0.1:$pg_port"
}

start_redis() {
	mkdir -p "$work/redis"
	redis_port=$(free_port)
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" \
		--maxmemory-policy noeviction >"$work/redis/server.log" 2>&1 &
	redis_pid=$!
	wait_until "$redis_pid" Redis bash -c "exec 3<>/dev/tcp/127.0.0.1/$redis_port"
	redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
	log "Redis $redis_version on 127.0.0.1:$redis_port"
}

# ---- measuring ----------------------------------------------------------------

# lock / unlock: the benchmark lock, held by this shell (fd 9) around one
# measured run.
lock() {
	exec 9>>"$LOCK"
	flock 9
}
unlock() {
	flock -u 9
	exec 9>&-
}

# wait_quiet: waits (up to --quiet-wait) until the machine, serve idle,
# uses less than 30% of a core, so a run does not start in the middle of
# someone else's build.
wait_quiet() {
	local waited=0 b0 b1 busy
	while :; do
		b0=$(busy_ticks)
		sleep 2
		b1=$(busy_ticks)
		busy=$(((b1 - b0) * 100 / (2 * HZ)))
		[ "$busy" -ge 30 ] || return 0
		if [ "$waited" -ge "$quiet_max" ]; then
			log "the machine is still busy (${busy}% of a core) after ${waited} s: measuring anyway"
			return 0
		fi
		[ "$waited" -gt 0 ] || log "waiting for the machine to quieten (${busy}% of a core busy)"
		sleep 8
		waited=$((waited + 10))
	done
}

# run_case SETUP NAME URL SERVER_PID SERVICE_PIDS [LOAD_ARGS...]: one
# measured run under the lock. Appends the generator's JSON, with the CPU
# time the server, PostgreSQL and Redis, and every other process on the
# machine spent over the run, to $work/results.ndjson.
run_case() {
	local setup=$1 name=$2 url=$3 pid=$4 svc=$5 out="$work/case.json" rc=0 cpu0 cpu1 svc0=0 svc1=0 sys0 sys1 t0 t1
	shift 5
	wait_quiet
	lock
	t0=$(date +%s%N) sys0=$(busy_ticks) cpu0=$(cpu_ticks "$pid")
	# shellcheck disable=SC2086
	[ -z "$svc" ] || svc0=$(cpu_ticks $svc)
	"$load" run -url "$url" -label "$setup $name" -c "$concurrency" -d "$duration" \
		-warmup "$warmup" "$@" >"$out" 2>"$work/load.err" || rc=$?
	cpu1=$(cpu_ticks "$pid")
	# shellcheck disable=SC2086
	[ -z "$svc" ] || svc1=$(cpu_ticks $svc)
	sys1=$(busy_ticks) t1=$(date +%s%N)
	unlock
	case $rc in
	0) ;;
	3) log "WARNING: $setup $name had errors: $(cat "$work/load.err")" ;;
	*) cat "$work/load.err" >&2; die "$setup $name: the load generator failed (exit $rc)" ;;
	esac
	jq -c --arg setup "$setup" --arg name "$name" --arg cpu "$(ticks_to_s $((cpu1 - cpu0)))" \
		--arg svc "$(ticks_to_s $((svc1 - svc0)))" --arg sys "$(ticks_to_s $((sys1 - sys0)))" \
		--arg wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" \
		'. + {setup: $setup, name: $name, server_cpu_s: ($cpu | tonumber), services_cpu_s: ($svc | tonumber),
		      run_wall_s: ($wall | tonumber),
		      other_cpu_s: ([($sys | tonumber) - ($cpu | tonumber) - ($svc | tonumber) - .client_cpu_total_s, 0] | max)}' \
		"$out" >>"$work/results.ndjson"
	jq -r '"\(.label): \(.ok_per_s) req/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, errors \(.errors)"' "$out" | while read -r l; do log "$l"; done
}

# run_wrk SETUP NAME URL [HEADER]: the same request from wrk (C, OpenSSL),
# whose own CPU cost is lower than the Go generator's.
run_wrk() {
	local setup=$1 name=$2 url=$3 hdr=() out="$work/wrk.out"
	[ $# -lt 4 ] || hdr=(-H "$4")
	wait_quiet
	lock
	wrk -t 2 -c "$concurrency" -d "$duration" --latency "${hdr[@]}" "$url" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk $setup $name failed"; }
	unlock
	awk -v s="$setup" -v n="$name" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		$1 == "Requests/sec:" { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		/Socket errors:/ { sock = $0 }
		END { printf "%s\t%s\t%.1f\t%.3f\t%.3f\t%d\t%s\n", s, n, rps, p50, p99, bad, sock }' "$out" >>"$work/wrk.tsv"
	log "wrk $setup $name: $(tail -1 "$work/wrk.tsv")"
}

# throughput SETUP DATA_DIR SERVICE_PIDS: bare, /api/health/live and
# /api/v1/me with a Bearer token, each for $duration.
throughput() {
	local setup=$1 dir=$2 svc=$3 base="https://127.0.0.1:$api_port"
	start_bare "$dir"
	# Interleaved, so that load from elsewhere on the machine spreads over
	# all three.
	for _ in $(seq "$runs"); do
		run_case "$setup" bare "https://127.0.0.1:$bare_port/" "$bare_pid" ""
		run_case "$setup" live "$base/api/health/live" "$serve_pid" "$svc"
		run_case "$setup" me "$base/api/v1/me" "$serve_pid" "$svc" -login-email "$EMAIL"
	done
	if [ "$with_wrk" -eq 1 ] && [ "$setup" = embedded ]; then
		local token
		token=$(curl -sfk -H 'Content-Type: application/json' \
			-d "$(jq -nc --arg e "$EMAIL" --arg p "$LOAD_PASSWORD" '{email: $e, password: $p}')" \
			"$base/api/v1/auth/login" | jq -r .accessToken)
		run_wrk "$setup" bare "https://127.0.0.1:$bare_port/"
		run_wrk "$setup" live "$base/api/health/live"
		run_wrk "$setup" me "$base/api/v1/me" "Authorization: Bearer $token"
	fi
	stop_bare
}

# flood N: a fresh serve on the embedded store with the default per-client
# limits gets one authenticated GET /api/v1/me from each of N distinct
# X-Forwarded-For addresses, as fast as it answers; serve's VmRSS is sampled
# every 200 ms before, during and after.
flood() {
	local n=$1 dir="$work/embedded" samples="$work/rss.$1" rss0 heap0 rss1 heap1 hwm rss2 heap2 peak rc=0
	write_config "$work/flood.yaml" flood
	start_serve "$dir" "$work/flood.yaml"
	# Steady state first (connections, TLS, the store's caches, the pools),
	# from 5,000 addresses of their own: 127.0.0.1 would be limited and
	# blocked by the default tiers.
	"$load" run -url "https://127.0.0.1:$api_port/api/v1/me" -login-email "$EMAIL" -c "$concurrency" \
		-n 5000 -xff 5000 -xff-base 10.254.0.0 -d 1m -warmup 0 >/dev/null 2>"$work/load.err" ||
		{ cat "$work/load.err" >&2; die "flood warm-up failed"; }
	sleep 1
	rss0=$(status_kib "$serve_pid" VmRSS) heap0=$(metric "$metrics_port" go_memstats_heap_inuse_bytes)
	(
		t0=$(date +%s%N)
		while kill -0 "$serve_pid" 2>/dev/null; do
			echo "$((($(date +%s%N) - t0) / 1000000)) $(status_kib "$serve_pid" VmRSS)"
			sleep 0.2
		done
	) >"$samples" 2>/dev/null &
	sampler_pid=$!
	wait_quiet
	lock
	"$load" run -url "https://127.0.0.1:$api_port/api/v1/me" -label "flood $n" -login-email "$EMAIL" \
		-c "$concurrency" -n "$n" -xff "$n" -d 10m -warmup 0 >"$work/case.json" 2>"$work/load.err" || rc=$?
	unlock
	case $rc in
	0) ;;
	3) log "WARNING: flood $n had errors: $(cat "$work/load.err")" ;;
	*) cat "$work/load.err" >&2; die "flood $n: the load generator failed (exit $rc)" ;;
	esac
	rss1=$(status_kib "$serve_pid" VmRSS) heap1=$(metric "$metrics_port" go_memstats_heap_inuse_bytes)
	hwm=$(status_kib "$serve_pid" VmHWM)
	log "flood $n: $(jq -r '"\(.ok_per_s) req/s, errors \(.errors)"' "$work/case.json"); RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, VmHWM $((hwm / 1024)) MiB; settling ${settle} s"
	# Past the sweep interval, touch every shard (a sweep runs lazily, in
	# a call that reaches it) from 2,000 other addresses, then idle on.
	sleep $((settle / 2))
	"$load" run -url "https://127.0.0.1:$api_port/api/v1/me" -login-email "$EMAIL" -c 2 -n 2000 -xff 2000 \
		-xff-base 10.255.0.0 -d 1m -warmup 0 >/dev/null 2>"$work/load.err" || { cat "$work/load.err" >&2; die "flood trickle failed"; }
	sleep $((settle - settle / 2))
	rss2=$(status_kib "$serve_pid" VmRSS) heap2=$(metric "$metrics_port" go_memstats_heap_inuse_bytes)
	hwm=$(status_kib "$serve_pid" VmHWM)
	stop_pid "$sampler_pid"
	sampler_pid=""
	peak=$(awk '$2 > m {m = $2} END {print m + 0}' "$samples")
	jq -c --argjson n "$n" --argjson rss0 "$rss0" --argjson rss1 "$rss1" --argjson rss2 "$rss2" --argjson hwm "$hwm" \
		--argjson peak "$peak" --argjson heap0 "$heap0" --argjson heap1 "$heap1" --argjson heap2 "$heap2" \
		'. + {clients: $n, rss_before_kib: $rss0, rss_end_kib: $rss1, rss_settled_kib: $rss2, vmhwm_kib: $hwm,
		      rss_peak_sampled_kib: $peak, heap_before: $heap0, heap_end: $heap1, heap_settled: $heap2}' \
		"$work/case.json" >>"$work/flood.ndjson"
	stop_serve
	grep -q '"level":"ERROR"' "$dir/serve.log" && log "WARNING: serve logged errors (see $dir/serve.log)"
	return 0
}

# ---- the run ------------------------------------------------------------------

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
rx="$work/repairxctl" load="$work/load"
# Into the work directory, not bin/: other scripts may build bin/ meanwhile.
CGO_ENABLED=0 go build -trimpath -o "$rx" ./cmd/repairxctl
go build -trimpath -o "$load" ./bench/load
api_port=$(free_port) metrics_port=$(free_port)

# Embedded: SQLite store, in-memory limiter and revocation list.
dir="$work/embedded"
mkdir -p "$dir"
write_config "$work/embedded.yaml" high
printf '%s\n' "$LOAD_PASSWORD" | "$rx" --config "$work/embedded.yaml" --data-dir "$dir" \
	user create --email "$EMAIL" --role manager --password-stdin >/dev/null 2>&1
start_serve "$dir" "$work/embedded.yaml"
log "embedded serve on https://127.0.0.1:$api_port"
throughput embedded "$dir" ""
stop_serve

# PostgreSQL + Redis: the several-nodes setup, one node.
if [ "$with_pg" -eq 1 ]; then
	start_postgres
	start_redis
	dir="$work/shared"
	mkdir -p "$dir"
	# The key ring lives in PostgreSQL, sealed under this key.
	BENCH_KEK=$(head -c 32 /dev/urandom | base64)
	export BENCH_KEK
	write_config "$work/shared.yaml" high 1
	printf '%s\n' "$LOAD_PASSWORD" | "$rx" --config "$work/shared.yaml" --data-dir "$dir" \
		user create --email "$EMAIL" --role manager --password-stdin >/dev/null 2>&1
	start_serve "$dir" "$work/shared.yaml"
	log "PostgreSQL + Redis serve on https://127.0.0.1:$api_port"
	throughput pg+redis "$dir" "$pg_pid $redis_pid"
	stop_serve
	backend_errors=$(grep -c 'rate limiter failed' "$dir/serve.log" || true)
	[ "$backend_errors" -eq 0 ] || log "WARNING: $backend_errors rate-limiter backend errors in serve's log"
fi

for n in $floods; do
	flood "$n"
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report -------------------------------------------------------------------

touch "$work/results.ndjson" "$work/flood.ndjson"
unclean=$(jq -s '[.[] | select(.clean | not)] | length' "$work/results.ndjson" "$work/flood.ndjson")
echo
echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), $(go version | cut -d' ' -f3)${pg_version:+, PostgreSQL $pg_version}${redis_version:+, Redis $redis_version};" \
	"load generator and servers on the same machine; -c $concurrency, $runs interleaved runs of $duration per case after $warmup of warm-up (medians; req/s range in brackets)."
echo
echo "| setup | request | req/s | p50 | p99 | bare ÷ this (req/s) | server CPU per request | this ÷ bare (CPU) | PostgreSQL + Redis CPU per request | load generator CPU | other processes' CPU | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
jq -rs '
	def median: sort | if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def r(n): . * pow(10; n) | round / pow(10; n);
	def us: . * 1e6 | round | tostring + " µs";
	def pct: . * 100 | round | tostring + "% of a core";
	[group_by(.setup, .name)[] | {
		setup: .[0].setup, name: .[0].name, runs: length, clean: all(.clean),
		errors: (map(.errors) | add),
		statuses: (map(.status_counts | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
		first_error: (map(.first_error // empty) | first),
		okps: (map(.ok_per_s) | median), okmin: (map(.ok_per_s) | min), okmax: (map(.ok_per_s) | max),
		p50: (map(.latency_ms.p50) | median), p99: (map(.latency_ms.p99) | median),
		cpu: (map(.server_cpu_s / (.requests + .warmup_requests)) | median),
		svc: (map(.services_cpu_s / (.requests + .warmup_requests)) | median),
		gen: (map(.client_cpu_s / .elapsed_s) | median),
		other: (map(.other_cpu_s / .run_wall_s) | median)
	}] as $rows
	| ($rows | map(select(.name == "bare")) | map({key: .setup, value: .}) | from_entries) as $bare
	| $rows[]
	| $bare[.setup] as $b
	| "| \(if .setup == "pg+redis" then "PostgreSQL + Redis" else .setup end) | " +
	  (if .name == "bare" then "bare net/http handler, TLS 1.3" elif .name == "live" then "`GET /api/health/live`" else "`GET /api/v1/me`, Bearer" end) +
	  " | " + (if .clean then "" else "⚠ " end) + "\(.okps | round) (\(.okmin | round)–\(.okmax | round))" +
	  " | \(.p50 | r(2)) ms | \(.p99 | r(1)) ms | " +
	  (if .name == "bare" then "1" else "\($b.okps / .okps | r(2))" end) +
	  " | \(.cpu | us) | " + (if .name == "bare" then "1" else "\(.cpu / $b.cpu | r(2))" end) + " | " +
	  (if .svc > 0 then (.svc | us) else "" end) +
	  " | \(.gen | pct) | \(.other | pct) | " +
	  (if .errors == 0 then "0" else "\(.errors): \(.statuses | tostring) \(.first_error // "")" end) + " |"
' "$work/results.ndjson"

if [ -s "$work/wrk.tsv" ]; then
	echo
	echo "Cross-check with wrk (-t 2 -c $concurrency -d $duration --latency; no warm-up):"
	echo
	echo "| setup | request | req/s | p50 | p99 | non-2xx |"
	echo "| --- | --- | --- | --- | --- | --- |"
	awk -F'\t' '{printf "| %s | %s | %s%.0f | %.3f ms | %.3f ms | %d%s |\n", $1, $2, ($6 > 0 ? "⚠ " : ""), $3, $4, $5, $6, ($7 != "" ? " (" $7 ")" : "")}' "$work/wrk.tsv"
fi

if [ -s "$work/flood.ndjson" ]; then
	echo
	echo "| distinct client IPs (X-Forwarded-For) | requests | req/s | errors | RSS before | peak RSS (VmHWM) | RSS at the end | RSS ${settle} s later | Go heap in use: before / end / later |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	jq -rs '
		def mib: . / 1024 | . * 10 | round / 10 | tostring + " MiB";
		def hmib: . / 1048576 | . * 10 | round / 10 | tostring;
		.[] | "| \(.clients) | \(.requests) | " + (if .clean then "" else "⚠ " end) + "\(.ok_per_s | round) | " +
		  (if .errors == 0 then "0" else "\(.errors): \(.status_counts | tostring)" end) +
		  " | \(.rss_before_kib | mib) | \(.vmhwm_kib | mib) | \(.rss_end_kib | mib) | \(.rss_settled_kib | mib) | " +
		  "\(.heap_before | hmib) / \(.heap_end | hmib) / \(.heap_settled | hmib) MiB |"
	' "$work/flood.ndjson"
fi

if [ "$unclean" -gt 0 ]; then
	echo
	echo "⚠ $unclean case(s) had failed requests or non-2xx answers: their throughput is not a clean measurement."
	exit 3
fi
