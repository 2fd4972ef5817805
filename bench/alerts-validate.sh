#!/usr/bin/env bash
# alerts validate vs promtool check rules on the same rule files (the
# corpus's plain rule files: promtool neither unwraps PrometheusRule objects
# nor reads Alertmanager configs), and repairxctl's start-up time.
# Usage: bash bench/alerts-validate.sh   (needs hyperfine and promtool: make test-deps)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus/alert-rules
[ -d "$corpus" ] || { echo "corpus not found at $corpus" >&2; exit 1; }
make -s build
files=()
while IFS=$'\t' read -r file kind _; do
  [ "$kind" = rules ] || continue
  case "$file" in *prometheusRule.yaml) continue ;; esac
  files+=("$corpus/$file")
done < <(tail -n +2 "$corpus/SOURCES.tsv")
echo "${#files[@]} rule files, $(cat "${files[@]}" | wc -l) lines"
hyperfine --warmup 3 --runs 30 -N --style basic \
  -n "repairxctl alerts validate (${#files[@]} files)" "bin/repairxctl alerts validate -q ${files[*]}" \
  -n "promtool check rules (${#files[@]} files)" "promtool check rules ${files[*]}"
hyperfine --warmup 5 --runs 100 -N --style basic \
  -n "repairxctl version" "bin/repairxctl version" \
  -n "promtool --version" "promtool --version"
