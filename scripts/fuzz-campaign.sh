#!/bin/bash
# The long fuzz campaigns (the reliability issue, item 3), one target at a
# time at low priority: each target runs to RUNS executions or MAX_SECONDS
# seconds, whichever comes first, on its committed seeds plus the working
# corpus in build-fuzz/corpus/. Prints one Markdown table row per target
# (executions, seconds, executions/s, corpus size, crashes/leaks/timeouts);
# the fuzzer's own log is build-fuzz/campaign/<target>.log and any failing
# input lands in build-fuzz/artifacts/<target>/.
#
# usage: scripts/fuzz-campaign.sh [TARGET ...]   (default: every fuzz/*.cpp)
#        env RUNS=10000000 MAX_SECONDS=1800 TIMEOUT=30 (seconds one input may take;
#        generous because a loaded machine stalls ASan); needs `make fuzz` built first.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10000000}
max_seconds=${MAX_SECONDS:-1800}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || for f in fuzz/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
mkdir -p build-fuzz/campaign
echo "| target | executions | seconds | exec/s | corpus | crashes, leaks, timeouts |"
echo "|---|---|---|---|---|---|"
status=0
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz-campaign: no $bin (make fuzz)" >&2; exit 2; }
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  log=build-fuzz/campaign/$t.log
  start=$(date +%s)
  nice -n 10 "$bin" -runs="$runs" -max_total_time="$max_seconds" -max_len=16384 -timeout="${TIMEOUT:-30}" -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$t/" "build-fuzz/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1
  rc=$?
  seconds=$(( $(date +%s) - start ))
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}')
  corpus=$(ls "build-fuzz/corpus/$t" | wc -l)
  failures=$(ls "build-fuzz/artifacts/$t" | grep -cE '^(crash|leak|timeout|oom)-')  # not slow-unit-*
  [ "$rc" -eq 0 ] && [ "$failures" -eq 0 ] || status=1
  echo "| $t | ${execs:-?} | $seconds | $(( ${execs:-0} / (seconds > 0 ? seconds : 1) )) | $corpus | $failures$( [ "$rc" -ne 0 ] && echo " (exit $rc, see $log)") |"
done
exit $status
