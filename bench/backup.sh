#!/usr/bin/env bash
# backup.sh: `repairxctl backup run` against `pg_dump -Fc > /dev/null` on the
# same generated databases in the same run, to a file:// repository and to an
# S3 server; peak RSS at two database sizes; `backup verify` and `backup
# restore` of the large backup. Prints Markdown tables for docs/benchmarks.md
# on stdout, progress on stderr.
#
# Usage: bash bench/backup.sh [--runs N] [--large TICKETS] [--small TICKETS]
#                             [--rev REV] [--wait-idle S] [--allow-small] [--baseline-only]
#   --runs N          measured runs of each dump (default 3; tables show the median)
#   --large TICKETS   tickets in the large database (default 700000: about 1.2 GiB)
#   --small TICKETS   tickets in the small one (default 150000: about 260 MiB)
#   --rev REV         build repairxctl from commit REV (git archive) instead of
#                     the working tree, which others may be editing
#   --wait-idle S     before each measured run wait up to S seconds (default 60;
#                     0: not at all) for the rest of the machine to use less
#                     than a quarter of a core over 2 s
#   --allow-small     trial runs: do not fail when the large database is under
#                     1 GiB (pg_database_size) or under 3 times the small one
#   --baseline-only   only pg_dump (no repairxctl build, no S3)
#
# Like internal/testenv it starts its own throwaway servers on 127.0.0.1 and
# random ports in temporary directories, and removes them on exit, on failure
# and on SIGINT/SIGTERM too (and they get a signal if the script is killed
# outright): Debian's PostgreSQL 15 (run as the postgres user when root; trust
# authentication, fsync=off) and versitygw (scripts/install-test-deps.sh
# installs both). It needs about 8 GiB of free disk in $TMPDIR (the databases,
# their WAL, the backups) and takes about 20 minutes on 2 cores.
#
# Every measured run holds an exclusive flock(1) on $BENCH_LOCK (default
# /tmp/bench.lock), so it never overlaps another benchmark that takes the same
# lock; data generation and checks run without it.
#
# What is measured, per run: wall time, GNU time's %M (the peak RSS of the
# largest single process among the command and the children it waited for:
# for `backup run` that is max(repairxctl, its pg_dump), not their sum), the
# CPU time of the command and its children, the peak RSS (VmHWM) and CPU of
# the command's own process and of its children apart (sampled from /proc
# every 0.1 s: VmHWM only rises, so a sample is at most 0.1 s stale), the CPU
# the PostgreSQL server spent meanwhile (all its processes), versitygw's, and the rest of the machine's busy
# CPU time meanwhile (load from elsewhere, which the lock does not exclude).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 large=700000 small=150000 baseline_only=0 allow_small=0 rev="" wait_idle=60
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--large) large=$2; shift 2 ;;
	--small) small=$2; shift 2 ;;
	--rev) rev=$2; shift 2 ;;
	--wait-idle) wait_idle=$2; shift 2 ;;
	--allow-small) allow_small=1; shift ;;
	--baseline-only) baseline_only=1; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "backup.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ $wait_idle =~ ^[0-9]+$ ]] || { echo "backup.sh: --wait-idle $wait_idle is not a number of seconds" >&2; exit 2; }
for n in "$runs" "$large" "$small"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "backup.sh: $n is not a positive number (see --help)" >&2; exit 2; }
done

readonly PG_BINDIR=/usr/lib/postgresql/15/bin
readonly S3_REGION=us-east-1 S3_BUCKET=bench
readonly ONE_GIB=$((1 << 30))
readonly BENCH_LOCK=${BENCH_LOCK:-/tmp/bench.lock}

# log, die, free_port
# shellcheck source=bench/lib.sh
. bench/lib.sh

# ---- prerequisites --------------------------------------------------------

[ -x "$PG_BINDIR/postgres" ] || die "PostgreSQL 15 not found in $PG_BINDIR: run scripts/install-test-deps.sh"
if [ "$baseline_only" -eq 0 ]; then
	versitygw=$(command -v versitygw || true)
	[ -n "$versitygw" ] || versitygw="$(go env GOPATH | cut -d: -f1)/bin/versitygw"
	[ -x "$versitygw" ] || die "versitygw not found: run scripts/install-test-deps.sh"
fi
if [ -n "$rev" ]; then
	rev_commit=$(git rev-parse --verify --quiet "$rev^{commit}") || die "--rev $rev: no such commit"
fi
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) not found: apt-get install time"
for tool in curl jq flock setsid setpriv; do command -v "$tool" >/dev/null || die "$tool not found"; done

# PostgreSQL refuses to run as root: root hands it to the postgres user
# (setpriv with these options; with none it only execs).
pg_cred=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "no postgres user (package postgresql-15)"
	pg_cred=(--reuid=postgres --regid=postgres --clear-groups)
fi

# ---- clean-up: everything this script started, by pid ----------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/repairx-bench-backup.XXXXXX")
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/repairx-bench-pg.XXXXXX")
pg_pid="" s3_pid="" measured_pid=""
problems=() # what the checks found, for the report

# stop_session SID SIGNAL: signals the session and waits up to 10 s for all of
# it to exit, then kills what is left.
stop_session() {
	local sid=$1 sig=$2
	kill "-$sig" -- "-$sid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		pgrep -s "$sid" >/dev/null || return 0
		sleep 0.1
	done
	log "session $sid still running 10 s after SIG$sig: killing it"
	kill -KILL -- "-$sid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# The measured command first (repairxctl aborts its upload on SIGTERM and
	# stops its pg_dump), while the servers it talks to still run.
	[ -z "$measured_pid" ] || stop_session "$measured_pid" TERM
	[ -z "$s3_pid" ] || stop_session "$s3_pid" TERM
	# SIGINT is PostgreSQL's fast shutdown: it ends sessions and frees shared memory.
	[ -z "$pg_pid" ] || stop_session "$pg_pid" INT
	wait 2>/dev/null
	rm -rf "$work" "$pgdir"
	[ "$rc" -eq 0 ] || log "failed (exit $rc); removed $work and $pgdir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_until PID WHAT CMD...: polls CMD until it succeeds (status 0), PID
# exits (status 1: the caller shows its log), or 60 s pass (the script fails).
wait_until() {
	local pid=$1 what=$2
	shift 2
	for _ in $(seq 600); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 1; }
		sleep 0.1
	done
	die "$what did not start within 60 s"
}

# Servers run in sessions of their own (setsid does not fork here: a
# background job of a script is no process-group leader), so clean-up can stop
# each with all its children, and a terminal's Ctrl-C reaches only the script.
# --pdeathsig stops them if the script is killed without running its trap.

# ---- PostgreSQL 15 ------------------------------------------------------------

start_postgres() {
	[ ${#pg_cred[@]} -eq 0 ] || chown postgres:postgres "$pgdir"
	setpriv "${pg_cred[@]}" "$PG_BINDIR/initdb" -D "$pgdir/data" --auth=trust --no-sync -U postgres \
		-E UTF8 --locale=C >"$pgdir/initdb.log" 2>&1 || { cat "$pgdir/initdb.log" >&2; die "initdb failed"; }
	# A port can be taken between free_port and the server's bind: try three.
	for attempt in 1 2 3; do
		pg_port=$(free_port)
		# testenv's settings (no durability for a throwaway cluster), plus a
		# checkpoint distance and buffers that keep the generator fast, and no
		# autovacuum, whose workers would add noise to the measured runs (the
		# generator ends with VACUUM ANALYZE).
		setsid setpriv --pdeathsig INT "${pg_cred[@]}" "$PG_BINDIR/postgres" -D "$pgdir/data" -p "$pg_port" -k "$pgdir" \
			-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off \
			-c shared_buffers=512MB -c max_wal_size=8GB -c checkpoint_timeout=1h -c autovacuum=off \
			>"$pgdir/server.log" 2>&1 &
		pg_pid=$!
		wait_until "$pg_pid" PostgreSQL "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
		pg_pid=""
		log "PostgreSQL exited during start-up on port $pg_port (attempt $attempt):"
		tail -5 "$pgdir/server.log" >&2
		[ "$attempt" -lt 3 ] || die "PostgreSQL did not start"
	done
	pg_version=$(psql_db postgres -Atc 'SHOW server_version')
	log "PostgreSQL $pg_version on 127.0.0.1:$pg_port"
}

pg_url() { echo "postgres://postgres@127.0.0.1:$pg_port/$1?sslmode=disable"; }
psql_db() {
	local db=$1
	shift
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" "$@"
}

# generate DB TICKETS: creates DB and fills it (bench/backup/gen.sql).
generate() {
	local db=$1 tickets=$2 began=$SECONDS
	psql_db postgres -c "CREATE DATABASE $db"
	psql_db "$db" -v tickets="$tickets" -f bench/backup/gen.sql >/dev/null
	psql_db "$db" -c CHECKPOINT
	log "generated $db: $tickets tickets, $(db_size_pretty "$db") in $((SECONDS - began)) s"
}
db_size() { psql_db postgres -Atc "SELECT pg_database_size('$1')"; }
db_size_pretty() { psql_db postgres -Atc "SELECT pg_size_pretty(pg_database_size('$1'))"; }

# ---- S3 (versitygw) -----------------------------------------------------------

start_s3() {
	mkdir -p "$work/s3/buckets"
	s3_key=$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')
	s3_secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	for attempt in 1 2 3; do
		s3_port=$(free_port)
		s3_endpoint="http://127.0.0.1:$s3_port"
		# The environment keeps the keys out of ps output.
		ROOT_ACCESS_KEY_ID=$s3_key ROOT_SECRET_ACCESS_KEY=$s3_secret setsid setpriv --pdeathsig TERM \
			"$versitygw" --port "127.0.0.1:$s3_port" --quiet posix "$work/s3/buckets" >"$work/s3/server.log" 2>&1 &
		s3_pid=$!
		# Any HTTP answer, even 403 to an anonymous request, means it serves.
		wait_until "$s3_pid" versitygw curl -s -o /dev/null "$s3_endpoint/" && break
		s3_pid=""
		log "versitygw exited during start-up on port $s3_port (attempt $attempt):"
		tail -5 "$work/s3/server.log" >&2
		[ "$attempt" -lt 3 ] || die "versitygw did not start"
	done
	# versitygw wants the payload's hash, which curl does not send by itself
	# (this one is of the empty body).
	curl -sSf -X PUT --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$s3_key:$s3_secret" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		"$s3_endpoint/$S3_BUCKET" >/dev/null || die "could not create bucket $S3_BUCKET"
	log "versitygw on $s3_endpoint, bucket $S3_BUCKET"
}

# repo_dir REPO: where the repository's objects are on local disk (versitygw's
# posix backend keeps an object as a file at bucket/key).
repo_dir() {
	case $1 in
	dir) echo "$work/repo" ;;
	var) echo "$work/varrepo" ;;
	s3) echo "$work/s3/buckets/$S3_BUCKET/pg" ;;
	esac
}

# ---- measuring ----------------------------------------------------------------
# /proc is read with shell builtins only, so sampling forks nothing but sleep.

# kids_of PID: sets KIDS to PID's children, those of all its threads (Go
# forks from whichever thread runs).
kids_of() {
	local f k
	KIDS=()
	for f in /proc/"$1"/task/*/children; do
		k=()
		read -r -a k 2>/dev/null <"$f" || true
		KIDS+=("${k[@]}")
	done
}

# hwm_of PID: sets HWM to PID's peak RSS in KiB (0 once it is gone).
hwm_of() {
	local k v
	HWM=0
	while read -r k v _; do
		if [ "$k" = VmHWM: ]; then HWM=$v; break; fi
	done 2>/dev/null <"/proc/$1/status" || true
}

# ticks_of PID FIRST: sets TICKS to fields FIRST and FIRST+1 of PID's stat
# summed (14: its own user+system CPU, 16: that of its waited-for children), in
# clock ticks; unchanged once PID is gone. The command names here hold no spaces.
ticks_of() {
	local s=()
	read -r -a s 2>/dev/null <"/proc/$1/stat" || true
	[ ${#s[@]} -gt 16 ] && TICKS=$((s[$2 - 1] + s[$2]))
	return 0
}

# server_ticks: sets SERVER to the CPU time PostgreSQL has used so far: that
# of its processes alive now and of those the postmaster reaped. Nothing is
# lost to a backend that exits in between, unlike the reaped part alone (the
# postmaster's first, so that one exiting meanwhile is not counted twice).
server_ticks() {
	local k
	TICKS=0
	ticks_of "$pg_pid" 14
	SERVER=$TICKS
	TICKS=0
	ticks_of "$pg_pid" 16
	SERVER=$((SERVER + TICKS))
	kids_of "$pg_pid"
	for k in "${KIDS[@]}"; do
		TICKS=0
		ticks_of "$k" 14
		SERVER=$((SERVER + TICKS))
	done
}

# pg_idle waits up to 5 s until the postmaster has no client backend (their
# title names the client's address), parallel worker, nor exited child it has
# not reaped yet: the last command's are gone, their CPU counted in the
# postmaster's.
pg_idle() {
	local k title st
	for _ in $(seq 50); do
		kids_of "$pg_pid"
		title=""
		for k in "${KIDS[@]}"; do
			st=()
			read -r -a st 2>/dev/null <"/proc/$k/stat" || true
			title=""
			read -r -d '' title 2>/dev/null <"/proc/$k/cmdline" || true
			if [ "${st[2]:-}" = Z ]; then title="a zombie ($k)"; break; fi
			[[ $title == *"127.0.0.1("* || $title == *"parallel worker"* ]] && break
			title=""
		done
		[ -n "$title" ] || return 0
		sleep 0.1
	done
	log "PostgreSQL still busy 5 s after the command: $title"
}

# busy_ticks: sets BUSY to the machine's busy CPU time so far (all CPUs, in
# clock ticks: /proc/stat's first line but idle and iowait).
busy_ticks() {
	local user nice system irq softirq steal
	read -r _ user nice system _ _ irq softirq steal _ </proc/stat
	BUSY=$((user + nice + system + irq + softirq + steal))
}

# idle_wait waits up to $wait_idle seconds for the machine to be nearly idle
# (our servers idle too), so that measured runs start without load from
# elsewhere when there is a quiet moment; it cannot keep load away during the run.
idle_wait() {
	local began=$SECONDS before hz
	hz=$(getconf CLK_TCK)
	while [ $((SECONDS - began)) -lt "$wait_idle" ]; do
		busy_ticks
		before=$BUSY
		sleep 2
		busy_ticks
		[ $(((BUSY - before) * 4)) -ge $((2 * hz)) ] || break
	done
	[ $((SECONDS - began)) -lt 3 ] || log "waited $((SECONDS - began)) s for a quieter machine (load average $(cut -d' ' -f1 /proc/loadavg))"
}

# measure LABEL OUT CMD...: runs CMD once, holding $BENCH_LOCK, under GNU
# time, with stdout to OUT; checks it exited 0 and appends to $work/results:
#   LABEL(2 words) wall_s tree_peak_kib cpu_s own_peak_kib own_cpu_s kids_peak_kib
#   server_cpu_s s3_cpu_s others_cpu_s
# where others_cpu_s is the machine's busy CPU time during the run less that
# of CMD, its children, PostgreSQL and versitygw: load from elsewhere.
measure() {
	local label=$1 out=$2 tf="$work/time.out" waited rc=0 hz
	local main="" main_comm comm own_hwm=0 own_ticks=0 kids_hwm=0 k
	local pg_before pg_after s3_before=0 s3_after=0 busy_before busy_after
	shift 2
	local -A seen=()
	idle_wait
	waited=$SECONDS
	flock 9
	waited=$((SECONDS - waited))
	[ "$waited" -lt 2 ] || log "$label: waited $waited s for $BENCH_LOCK"
	pg_idle
	server_ticks
	pg_before=$SERVER
	if [ -n "$s3_pid" ]; then ticks_of "$s3_pid" 14; s3_before=$TICKS; fi
	busy_ticks
	busy_before=$BUSY
	# In a session of its own, so clean-up can stop it with all its children.
	setsid /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$out" 2>"$work/stderr" 9>&- &
	measured_pid=$!
	while kill -0 "$measured_pid" 2>/dev/null; do
		# time's one child is CMD (env execs it).
		if [ -z "$main" ]; then
			kids_of "$measured_pid"
			main=${KIDS[0]:-}
		fi
		if [ -n "$main" ]; then
			hwm_of "$main"
			[ "$HWM" -le "$own_hwm" ] || own_hwm=$HWM
			TICKS=$own_ticks
			ticks_of "$main" 14
			own_ticks=$TICKS
			main_comm=""
			read -r main_comm 2>/dev/null <"/proc/$main/comm" || true
			kids_of "$main"
			for k in "${KIDS[@]}"; do
				# A child that has not exec'd yet still shares the parent's
				# memory (Go forks with CLONE_VM) and name: not counted.
				comm=""
				read -r comm 2>/dev/null <"/proc/$k/comm" || true
				if [ -z "$comm" ] || [ "$comm" = "$main_comm" ]; then continue; fi
				seen[$k]=$comm
				hwm_of "$k"
				[ "$HWM" -le "$kids_hwm" ] || kids_hwm=$HWM
			done
		fi
		sleep 0.1
	done
	wait "$measured_pid" || rc=$?
	measured_pid=""
	busy_ticks
	busy_after=$BUSY
	pg_idle
	server_ticks
	pg_after=$SERVER
	if [ -n "$s3_pid" ]; then ticks_of "$s3_pid" 14; s3_after=$TICKS; fi
	flock -u 9
	if [ "$rc" -ne 0 ]; then
		cat "$work/stderr" >&2
		die "$label: exit status $rc from: $*"
	fi
	read -r wall rss user sys <"$tf"
	hz=$(getconf CLK_TCK)
	awk -v l="$label" -v w="$wall" -v r="$rss" -v u="$user" -v s="$sys" -v oh="$own_hwm" -v ot="$own_ticks" \
		-v kh="$kids_hwm" -v pt="$((pg_after - pg_before))" -v st="$((s3_after - s3_before))" \
		-v bt="$((busy_after - busy_before))" -v hz="$hz" 'BEGIN {
			o = bt / hz - (u + s) - pt / hz - st / hz
			printf "%s %s %s %.2f %s %.2f %s %.2f %.2f %.2f\n", l, w, r, u + s, oh, ot / hz, kh, pt / hz, st / hz, (o > 0 ? o : 0)
		}' >>"$work/results"
	tail -1 "$work/results" | awk -v kids="${seen[*]}" '{
		printf "%s %s: %s s; time %%M %d MiB, own %d MiB, children [%s] %d MiB; CPU %s s (own %s), PostgreSQL %s s, versitygw %s s, others %s s\n",
			$1, $2, $3, $4 / 1024, $6 / 1024, kids, $8 / 1024, $5, $7, $9, $10, $11 }' | while read -r line; do log "$line"; done
}

# check_clean REPO DB: after a successful `backup run`, the repository holds
# complete backups alone (no lock, no temporary or multipart leftovers), and
# nothing was staged on local disk.
check_clean() {
	local repo=$1 db=$2 d extra list leftover
	d=$(repo_dir "$repo")
	extra=$(find "$d" -mindepth 1 \( -type d -name '.sgwtmp' -prune -o -type f -printf '%P\n' \) |
		grep -Ev "^bench_[a-z]+/[0-9]{8}T[0-9]{6}Z-[a-z0-9]{6}/(data\.zst(\.age)?|manifest\.json|verified\.json)$" || true)
	[ -z "$extra" ] || problems+=("$db to $repo: files left in the repository besides backups: $(echo "$extra" | tr '\n' ' ')")
	if [ "$repo" = s3 ] && [ -n "$(find "$work/s3/buckets/$S3_BUCKET/.sgwtmp" -type f 2>/dev/null | head -1)" ]; then
		problems+=("$db to $repo: unfinished multipart upload left in versitygw: $(find "$work/s3/buckets/$S3_BUCKET/.sgwtmp" -type f | head -3 | tr '\n' ' ')")
	fi
	leftover=$(find "$work/tmp" -mindepth 1 -maxdepth 1 -printf '%f ')
	[ -z "$leftover" ] || problems+=("$db to $repo: files left in TMPDIR: $leftover")
	list=$("${rx[@]}" -o json backup list --repo "$repo" --source "$db")
	[ "$(jq -r '[.backups[] | select(.state == "complete")] | length' <<<"$list")" -ge 1 ] ||
		problems+=("$db to $repo: backup list shows no complete backup: $list")
	jq -e '.summary.incomplete == 0 and .summary.damaged == 0' <<<"$list" >/dev/null ||
		problems+=("$db to $repo: backup list: $(jq -c .summary <<<"$list")")
	rm -rf "${work:?}/tmp/"*
}

# ---- the run ------------------------------------------------------------------

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
start_postgres
generate bench_small "$small"
generate bench_large "$large"
size_small=$(db_size bench_small) size_large=$(db_size bench_large)
if [ "$size_large" -lt "$ONE_GIB" ] || [ "$size_large" -lt $((3 * size_small)) ]; then
	msg="bench_large is $(db_size_pretty bench_large), bench_small $(db_size_pretty bench_small): the large one must be at least 1 GiB and 3 times the small one (raise --large)"
	[ "$allow_small" -eq 1 ] || die "$msg"
	log "WARNING (--allow-small): $msg"
	problems+=("trial run: $msg")
fi

pg_dump=("$PG_BINDIR/pg_dump" -h 127.0.0.1 -p "$pg_port" -U postgres -Fc)
# Dump sizes, uncompressed and pg_dump's own (gzip), and a warm-up read of
# every table for both (the machine's RAM holds both databases: every
# measured run reads from the cache).
for db in bench_small bench_large; do
	"${pg_dump[@]}" -Z0 -d "$db" | wc -c >"$work/dumpsize.$db"
	"${pg_dump[@]}" -d "$db" | wc -c >"$work/dumpsize-gzip.$db"
	log "$db: pg_dump -Fc -Z0 writes $(($(cat "$work/dumpsize.$db") >> 20)) MiB, pg_dump -Fc $(($(cat "$work/dumpsize-gzip.$db") >> 20)) MiB"
done

repos=()
if [ "$baseline_only" -eq 0 ]; then
	repos=(dir s3)
	start_s3
	if [ -n "$rev" ]; then
		log "building repairxctl from $rev ($rev_commit)"
		mkdir "$work/src"
		git archive "$rev_commit" | tar -x -C "$work/src"
		make -s -C "$work/src" build BIN="$work/repairxctl" VERSION="$(git describe --tags --always "$rev_commit")" \
			COMMIT="$rev_commit" DATE="$(git log -1 --format=%cI "$rev_commit")"
	else
		log "building repairxctl from the working tree"
		make -s build BIN="$work/repairxctl"
	fi
	mkdir -p "$work/tmp"
	# TMPDIR points at an empty directory that check_clean expects empty
	# afterwards; env execs, so time's child is repairxctl itself.
	rx=(env TMPDIR="$work/tmp" "$work/repairxctl" --config "$work/repairxctl.yaml" --data-dir "$work/data")
	cat >"$work/repairxctl.yaml" <<-EOF
		backup:
		  allow_unencrypted: true
		  repositories:
		    var:
		      url: file://$work/varrepo
		    dir:
		      url: file://$work/repo
		    s3:
		      url: s3://$S3_BUCKET/pg
		      region: $S3_REGION
		      endpoint: $s3_endpoint
		      path_style: true
		      access_key_id: env:BENCH_S3_KEY_ID
		      secret_access_key: env:BENCH_S3_SECRET
	EOF
	export BENCH_S3_KEY_ID=$s3_key BENCH_S3_SECRET=$s3_secret
	recipient=$("${rx[@]}" -o json backup keygen --out "$work/identity.txt" | jq -r .recipient)
	[[ $recipient == age1* ]] || die "backup keygen printed no recipient"
	rx_version=$("${rx[@]}" version 2>/dev/null | head -1 || true)
fi

exec 9>>"$BENCH_LOCK"
# Runs alternate between the commands so that load from elsewhere on the
# machine spreads over all of them.
for i in $(seq "$runs"); do
	log "run $i of $runs"
	for db in bench_small bench_large; do
		sync
		measure "$db pg_dump-Fc" /dev/null "${pg_dump[@]}" -d "$db"
		measure "$db pg_dump-Fc-Z0" /dev/null "${pg_dump[@]}" -Z0 -d "$db"
		for repo in "${repos[@]}"; do
			# One backup per source in each repository: the last run's stays
			# for verify and restore; flush the last one's writes beforehand.
			rm -rf "$(repo_dir "$repo")/${db:?}"
			sync
			measure "$db run-$repo" "$work/run.json" "${rx[@]}" -o json backup run --source "$(pg_url "$db")" \
				--repo "$repo" --recipient "$recipient"
			jq -e --arg db "$db" '.source == $db and .plaintext_size > 0 and .stored_size > 0' "$work/run.json" >/dev/null ||
				die "$db run-$repo: unexpected result: $(cat "$work/run.json")"
			jq -r '"\(.plaintext_size) \(.stored_size)"' "$work/run.json" >"$work/sizes.$db.$repo"
			check_clean "$repo" "$db"
		done
	done
done

if [ "$baseline_only" -eq 0 ]; then
	# What the table summary `backup run` reads beside pg_dump costs the server.
	measure "bench_large summary" /dev/null "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres \
		-d bench_large -f bench/backup/summary.sql

	# Where repairxctl's own CPU goes: the same backup at zstd level 1, and
	# unencrypted (allow_unencrypted is on for this alone), once each, into a
	# repository of their own.
	for variant in zstd1 plain; do
		rm -rf "$work/varrepo"
		sync
		case $variant in
		zstd1) flags=(--recipient "$recipient" --compression-level 1) ;;
		plain) flags=(--unencrypted) ;;
		esac
		measure "bench_large run-$variant" "$work/run.json" "${rx[@]}" -o json backup run \
			--source "$(pg_url bench_large)" --repo var "${flags[@]}"
		jq -r '"\(.plaintext_size) \(.stored_size)"' "$work/run.json" >"$work/sizes.bench_large.$variant"
		check_clean var bench_large
	done
	rm -rf "$work/varrepo"

	sync
	for repo in "${repos[@]}"; do
		measure "bench_large verify-$repo" /dev/null "${rx[@]}" backup verify latest --source bench_large \
			--repo "$repo" --identity "$work/identity.txt"
	done
	psql_db postgres -c 'CREATE DATABASE bench_restored'
	measure "bench_large restore-s3" /dev/null "${rx[@]}" backup restore latest --source bench_large \
		--repo s3 --identity "$work/identity.txt" --to-db "$(pg_url bench_restored)"
	leftover=$(find "$work/tmp" -mindepth 1 -maxdepth 1 -printf '%f ')
	[ -z "$leftover" ] || problems+=("restore: files left in TMPDIR: $leftover")
	# Baseline: pg_restore of a plain -Fc file in one transaction, as restore does.
	"${pg_dump[@]}" -d bench_large -f "$work/large.dump"
	psql_db postgres -c 'CREATE DATABASE bench_pgrestored'
	sync
	measure "bench_large pg_restore" /dev/null "$PG_BINDIR/pg_restore" -h 127.0.0.1 -p "$pg_port" -U postgres \
		--single-transaction --exit-on-error -d bench_pgrestored "$work/large.dump"
	rm -f "$work/large.dump"
	counts="SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM ticket), (SELECT count(*) FROM ticket_event),
		(SELECT count(*) FROM ticket_photo), (SELECT sum(total) FROM ticket), (SELECT sum(length(image)) FROM ticket_photo),
		(SELECT md5(string_agg(md5(t::text), '' ORDER BY id)) FROM ticket AS t)"
	want=$(psql_db bench_large -Atc "$counts")
	for db in bench_restored bench_pgrestored; do
		got=$(psql_db "$db" -Atc "$counts")
		[ "$got" = "$want" ] || die "$db holds $got, bench_large $want"
	done
	log "restored databases match bench_large"
fi
exec 9>&-
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report -------------------------------------------------------------------

for db in bench_small bench_large; do
	for step in pg_dump-Fc pg_dump-Fc-Z0 "${repos[@]/#/run-}"; do
		[ "$(grep -c "^$db $step " "$work/results")" -eq "$runs" ] || die "$work/results lacks runs of $db $step"
	done
done

# median LABEL FIELD: the median of FIELD over LABEL's runs (fields: 1 wall,
# 2 tree peak RSS, 3 CPU, 4 own peak RSS, 5 own CPU, 6 children's peak RSS,
# 7 PostgreSQL CPU, 8 versitygw CPU, 9 others' CPU).
median() {
	awk -v l="$1" -v f="$2" '$1 " " $2 == l {print $(f + 2)}' "$work/results" |
		sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}
# maxof LABEL FIELD: the largest FIELD over LABEL's runs.
maxof() {
	awk -v l="$1" -v f="$2" '$1 " " $2 == l && $(f + 2) > m {m = $(f + 2)} END {print m + 0}' "$work/results"
}
mib() { awk -v b="$1" 'BEGIN {printf "%.0f MiB", b / 1048576}'; }
gib() { awk -v b="$1" 'BEGIN {printf "%.2f GiB", b / 1073741824}'; }
# shellcheck disable=SC2016 # Markdown code spans, not command substitutions
name_of() {
	case $1 in
	pg_dump-Fc) echo '`pg_dump -Fc > /dev/null`' ;;
	pg_dump-Fc-Z0) echo '`pg_dump -Fc -Z0 > /dev/null`' ;;
	run-dir) echo '`backup run` to file://' ;;
	run-s3) echo '`backup run` to S3 (versitygw)' ;;
	run-zstd1) echo '`backup run --compression-level 1` to file://' ;;
	run-plain) echo '`backup run --unencrypted` to file://' ;;
	verify-dir) echo '`backup verify latest` from file://' ;;
	verify-s3) echo '`backup verify latest` from S3' ;;
	restore-s3) echo '`backup restore latest --to-db` from S3' ;;
	pg_restore) echo '`pg_restore --single-transaction` of a `pg_dump -Fc` file' ;;
	summary) echo "\`psql -f bench/backup/summary.sql\`: \`backup run\`'s table summary alone" ;;
	esac
}

echo
echo "PostgreSQL $pg_version; ${rx_version:-repairxctl not built}; $(go env GOVERSION); $(uname -sr);"
echo "$(nproc) × $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM."
echo "$runs runs of each dump, alternating; times are medians, peak RSS the largest of the runs."
echo
echo "| database | tickets | size (pg_database_size) | pg_dump -Fc -Z0 output | pg_dump -Fc output (gzip) |"
echo "| --- | --- | --- | --- | --- |"
for db in bench_small bench_large; do
	if [ "$db" = bench_small ]; then t=$small size=$size_small; else t=$large size=$size_large; fi
	echo "| $db | $t | $(gib "$size") ($size bytes) | $(mib "$(cat "$work/dumpsize.$db")") | $(mib "$(cat "$work/dumpsize-gzip.$db")") |"
done
echo
echo "Throughput is pg_database_size / wall time; \"vs pg_dump -Fc\" is throughput over that of \`pg_dump -Fc > /dev/null\` (above 1: faster)."
echo "CPU (user+sys): of the command and its children; of the PostgreSQL backends serving it; of versitygw;"
echo "and \"others\": the rest of the machine's busy CPU time during the run (load from elsewhere; 2 cores give"
echo "2 s of CPU per second)."
echo
echo "| database | command | wall time | throughput | vs pg_dump -Fc | CPU | PostgreSQL CPU | versitygw CPU | all three | others' CPU |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for db in bench_small bench_large; do
	if [ "$db" = bench_small ]; then size=$size_small; else size=$size_large; fi
	base=$(median "$db pg_dump-Fc" 1)
	for step in pg_dump-Fc pg_dump-Fc-Z0 "${repos[@]/#/run-}"; do
		awk -v db="$db" -v n="$(name_of "$step")" -v w="$(median "$db $step" 1)" -v s="$size" -v b="$base" \
			-v c="$(median "$db $step" 3)" -v pc="$(median "$db $step" 7)" -v sc="$(median "$db $step" 8)" \
			-v oc="$(median "$db $step" 9)" \
			'BEGIN {printf "| %s | %s | %.1f s | %.1f MiB/s | %.2f× | %.1f s | %.1f s | %.1f s | %.1f s | %.1f s |\n", db, n, w, s / w / 1048576, b / w, c, pc, sc, c + pc + sc, oc}'
	done
done
echo
echo "Peak RSS: \`/usr/bin/time -f %M\` is the largest single process among the command and the children it"
echo "waited for (for \`backup run\`: max(repairxctl, pg_dump), not the sum); the other two columns are VmHWM of"
echo "the command's own process and the largest of its child processes, sampled from /proc."
echo
echo "| command | database | time %M | own process | child processes |"
echo "| --- | --- | --- | --- | --- |"
for step in "${repos[@]/#/run-}" pg_dump-Fc pg_dump-Fc-Z0; do
	for db in bench_small bench_large; do
		kids=$(maxof "$db $step" 6)
		[ "$kids" -gt 0 ] && kids=$(mib "$((kids * 1024))")" (pg_dump)" || kids="none"
		echo "| $(name_of "$step") | $db | $(mib "$(($(maxof "$db $step" 2) * 1024))") | $(mib "$(($(maxof "$db $step" 4) * 1024))") | $kids |"
	done
done
for repo in "${repos[@]}"; do
	small_hwm=$(maxof "bench_small run-$repo" 4) large_hwm=$(maxof "bench_large run-$repo" 4)
	awk -v r="$repo" -v s="$small_hwm" -v l="$large_hwm" -v ss="$size_small" -v sl="$size_large" 'BEGIN {
		printf "\nrepairxctl `backup run` to %s: own peak RSS %.0f MiB at %.2f GiB, %.0f MiB at %.2f GiB (%.1f× the data: RSS %+.0f%%).\n",
			r, s / 1024, ss / 1073741824, l / 1024, sl / 1073741824, sl / ss, (l / s - 1) * 100 }'
done
if [ "$baseline_only" -eq 0 ]; then
	echo
	echo "One run each, of the last backup of bench_large:"
	echo
	echo "| command | wall time | throughput | CPU | PostgreSQL CPU | versitygw CPU | others' CPU | time %M | own process |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	for step in verify-dir verify-s3 restore-s3 pg_restore; do
		awk -v n="$(name_of "$step")" -v w="$(median "bench_large $step" 1)" -v s="$size_large" \
			-v c="$(median "bench_large $step" 3)" -v pc="$(median "bench_large $step" 7)" \
			-v sc="$(median "bench_large $step" 8)" -v oc="$(median "bench_large $step" 9)" \
			-v r="$(maxof "bench_large $step" 2)" -v o="$(maxof "bench_large $step" 4)" \
			'BEGIN {printf "| %s | %.1f s | %.1f MiB/s | %.1f s | %.1f s | %.1f s | %.1f s | %.0f MiB | %.0f MiB |\n", n, w, s / w / 1048576, c, pc, sc, oc, r / 1024, o / 1024}'
	done
	echo
	echo "Where the CPU of \`backup run\` goes, bench_large to file:// (the variants: one run each; \`--unencrypted\`"
	echo "still compresses at level 3):"
	echo
	echo "| command | wall time | CPU: repairxctl | CPU: its pg_dump | PostgreSQL CPU | stored |"
	echo "| --- | --- | --- | --- | --- | --- |"
	awk -v n="$(name_of pg_dump-Fc-Z0)" -v w="$(median "bench_large pg_dump-Fc-Z0" 1)" -v c="$(median "bench_large pg_dump-Fc-Z0" 3)" \
		-v pc="$(median "bench_large pg_dump-Fc-Z0" 7)" \
		'BEGIN {printf "| %s | %.1f s | | %.1f s | %.1f s | |\n", n, w, c, pc}'
	awk -v n="$(name_of summary)" -v w="$(median "bench_large summary" 1)" -v pc="$(median "bench_large summary" 7)" \
		'BEGIN {printf "| %s | %.1f s | | | %.1f s | |\n", n, w, pc}'
	for step in run-dir run-zstd1 run-plain; do
		case $step in
		run-dir) sizes=$work/sizes.bench_large.dir ;;
		*) sizes=$work/sizes.bench_large.${step#run-} ;;
		esac
		read -r _ stored <"$sizes"
		awk -v n="$(name_of "$step")" -v w="$(median "bench_large $step" 1)" -v c="$(median "bench_large $step" 3)" \
			-v o="$(median "bench_large $step" 5)" -v pc="$(median "bench_large $step" 7)" -v st="$stored" \
			'BEGIN {printf "| %s | %.1f s | %.1f s | %.1f s | %.1f s | %.0f MiB |\n", n, w, o, c - o, pc, st / 1048576}'
	done
	echo
	echo "| database | plaintext (pg_dump -Fc -Z0, in the backup) | stored (zstd level 3 + age) | ratio | pg_dump -Fc (gzip) | ratio |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for db in bench_small bench_large; do
		read -r plain stored <"$work/sizes.$db.s3"
		awk -v db="$db" -v p="$plain" -v s="$stored" -v g="$(cat "$work/dumpsize-gzip.$db")" \
			'BEGIN {printf "| %s | %.0f MiB | %.0f MiB | %.2f | %.0f MiB | %.2f |\n", db, p / 1048576, s / 1048576, p / s, g / 1048576, p / g}'
	done
fi
echo
echo "Every run, in seconds and KiB (label, wall, time %M, CPU, own VmHWM, own CPU, children's VmHWM,"
echo "PostgreSQL CPU, versitygw CPU, others' CPU):"
echo
echo '```'
cat "$work/results"
echo '```'
if [ ${#problems[@]} -gt 0 ]; then
	echo
	echo "Problems found:"
	printf -- '- %s\n' "${problems[@]}"
fi
