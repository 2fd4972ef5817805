#!/usr/bin/env bash
# install-test-deps.sh installs the servers and tools that internal/testenv runs for
# real in tests, on Debian 12. It is idempotent and, when everything is present,
# quick (no apt, no network) and silent but for one line, so `make test` can call it
# on every run.
#
# Debian packages: postgresql-15, redis-server, prometheus (+ promtool),
# prometheus-alertmanager (+ amtool), util-linux (setpriv).
# Go tool: versitygw (S3 server) into $(go env GOPATH)/bin.
#
# The packages' maintainer scripts would start their daemons on the default ports;
# tests start their own instances on random ports, so we keep the packaged ones from
# starting and stop any that did.
set -euo pipefail

readonly VERSITYGW_MODULE=github.com/versity/versitygw
readonly VERSITYGW_VERSION=v1.8.0
readonly PG_BINDIR=/usr/lib/postgresql/15/bin

die() { echo "install-test-deps: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

sudo=""
as_root() {
	if [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
		have sudo || die "not root and sudo not found: run this script as root"
		sudo=sudo
	fi
	$sudo "$@"
}

# stop_pid stops PID if it still runs EXE (pids get reused) and reports whether
# it did. /usr/bin/redis-server is a symlink, hence the resolved paths.
stop_pid() {
	local pid=$1 exe=$2 sig=$3 real
	real=$(as_root readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[ "${real% (deleted)}" = "$(readlink -f "$exe")" ] || return 1
	as_root kill "-$sig" "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		[ -e "/proc/$pid" ] || return 0
		sleep 0.1
	done
	as_root kill -KILL "$pid" 2>/dev/null || true
}

# stop_packaged_daemons stops what the packages' postinst scripts may have
# started, found by their init scripts' pidfiles or, failing that, by running as
# the package's own system user: tests never run servers as redis or prometheus,
# nor PostgreSQL on the packaged cluster's data directory.
stop_packaged_daemons() {
	local entry pidfile exe sig pid user
	for entry in \
		/run/redis/redis-server.pid:/usr/bin/redis-server:TERM \
		/run/prometheus/prometheus.pid:/usr/bin/prometheus:TERM \
		/run/prometheus/prometheus-alertmanager.pid:/usr/bin/prometheus-alertmanager:TERM \
		/run/prometheus/prometheus-node-exporter.pid:/usr/bin/prometheus-node-exporter:TERM \
		/run/postgresql/15-main.pid:$PG_BINDIR/postgres:INT; do
		IFS=: read -r pidfile exe sig <<<"$entry"
		pid=$(as_root cat "$pidfile" 2>/dev/null) || continue
		if [[ $pid =~ ^[0-9]+$ ]] && stop_pid "$pid" "$exe" "$sig"; then
			as_root rm -f "$pidfile"
		fi
	done
	for user in redis prometheus; do
		id -u "$user" >/dev/null 2>&1 || continue
		for pid in $(pgrep -u "$user" 2>/dev/null || true); do
			for exe in /usr/bin/redis-server /usr/bin/prometheus \
				/usr/bin/prometheus-alertmanager /usr/bin/prometheus-node-exporter; do
				stop_pid "$pid" "$exe" TERM && break
			done
		done
	done
	# The packaged cluster "main" runs with -D /var/lib/postgresql/15/main; its
	# postmaster is the oldest process with that command line.
	pid=$(pgrep -o -u postgres -f "^$PG_BINDIR/postgres -D /var/lib/postgresql/15/main" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		stop_pid "$pid" "$PG_BINDIR/postgres" INT || true
	fi
	return 0
}

install_packages() {
	local log policy=/usr/sbin/policy-rc.d
	log=$(mktemp)
	# invoke-rc.d asks policy-rc.d whether a postinst may start a service; 101
	# means "no". Only install ours if the machine has none, and remove it after.
	if [ ! -e "$policy" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
		trap 'as_root rm -f '"$policy"'; rm -f '"$log" EXIT
	else
		trap 'rm -f '"$log" EXIT
	fi
	if ! as_root apt-get update -qq >"$log" 2>&1 ||
		! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "$@" >>"$log" 2>&1; then
		cat "$log" >&2
		die "apt-get failed installing: $*"
	fi
	stop_packaged_daemons
}

packages=()
{ [ -x "$PG_BINDIR/postgres" ] && [ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_dump" ]; } ||
	packages+=(postgresql-15)
have redis-server || packages+=(redis-server)
{ have prometheus && have promtool; } || packages+=(prometheus)
{ have prometheus-alertmanager && have amtool; } || packages+=(prometheus-alertmanager)
have setpriv || packages+=(util-linux)

installed=0
if [ ${#packages[@]} -gt 0 ]; then
	install_packages "${packages[@]}"
	for p in "${packages[@]}"; do echo "installed $p"; done
	installed=1
fi

have go || die "go not found on PATH: it is needed to build versitygw"
gopath=$(go env GOPATH)
gobin="${gopath%%:*}/bin"
# `versitygw --version` prints "Version: git" for a `go install` build, so read the
# module version from the binary's build information instead.
# (Captured first: grep -q leaving early could fail the pipeline under pipefail.)
buildinfo=$(go version -m "$gobin/versitygw" 2>/dev/null || true)
if ! grep -Eq "^[[:space:]]+mod[[:space:]]+${VERSITYGW_MODULE}[[:space:]]+${VERSITYGW_VERSION}([[:space:]]|\$)" <<<"$buildinfo"; then
	GOBIN="$gobin" go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"
	echo "installed versitygw $VERSITYGW_VERSION into $gobin"
	installed=1
fi

if [ "$installed" -eq 0 ]; then
	echo "test dependencies present"
fi
