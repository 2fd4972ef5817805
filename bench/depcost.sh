#!/usr/bin/env bash
# What the upstream Prometheus/Alertmanager parsers cost: cold build time
# (empty GOCACHE, modules already downloaded) and stripped binary size of
# bench/depcost/base vs bench/depcost/full, and of the real binary.
# Usage: bash bench/depcost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go mod download
for v in base full; do
  start=$(date +%s.%N)
  GOCACHE="$tmp/cache-$v" CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/$v" "./bench/depcost/$v"
  end=$(date +%s.%N)
  awk -v v="$v" -v s="$start" -v e="$end" -v b="$(stat -c %s "$tmp/$v")" \
    'BEGIN { printf "%-6s cold build %6.1f s   binary %6.1f MiB\n", v, e - s, b / 1048576 }'
done
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/repairxctl" ./cmd/repairxctl
awk -v b="$(stat -c %s "$tmp/repairxctl")" 'BEGIN { printf "repairxctl (stripped)          binary %6.1f MiB\n", b / 1048576 }'
