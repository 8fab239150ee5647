#!/bin/bash
# Crash safety of `taper train` (the reliability issue, item 2): kills the
# training with SIGKILL at random moments and resumes it with --resume, over
# and over, until at least KILLS kills have landed and every stage (stage 1,
# the stage-2 shards, stage 3, the baseline) has been hit at least HITS times.
# After every kill each checkpoint in the run directory must validate
# (`taper inspect`: never a half-written checkpoint); every killed-and-resumed
# run must end with the same bytes as an uninterrupted run: checkpoints,
# config.toml, eval.json, and log.jsonl without its timing fields.
#
# usage: scripts/crash-test.sh [SEED]     (env: KILLS=20 HITS=3 CONFIG=... BIN=build/taper)
# Writes build/crash-test/ (runs, logs) and build/crash-test/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-$(( $(date +%s) % 32768 ))}
kills_wanted=${KILLS:-20}
hits_wanted=${HITS:-3}
config=${CONFIG:-tests/configs/tiny_resume.toml}
bin=${BIN:-build/taper}
work=build/crash-test
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
files="config.toml stage1.safetensors stage2.shard00.safetensors stage2.shard01.safetensors stage3.safetensors baseline.safetensors eval.json"
RANDOM=$seed

[ -x "$bin" ] || { echo "crash-test: no $bin (make -j2 build/taper)" >&2; exit 2; }
rm -rf "$work" && mkdir -p "$work"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# log.jsonl without the fields that measure time.
untimed_log() { sed -E 's/"images_per_second":[^,}]*,?//; s/"seconds":[^,}]*,?//; s/,}/}/' "$1"; }
# The stage (or phase) the run was in: the label of its last progress line.
phase_of() {
  local label
  label=$(tr '\r' '\n' < "$1" | grep -oE '^(stage1|stage2\.shard[0-9]+|stage3|baseline|eval)[ ]' | tail -1 | tr -d ' ')
  case "$label" in
    "") echo loading ;;
    stage2.*) echo stage2 ;;
    *) echo "$label" ;;
  esac
}

# The uninterrupted run, timing when its training starts (its first progress
# line) and how long training and evaluation then take: loading CIFAR-100
# takes longer than this tiny training, and kills are meant for the training.
started() { grep -qE '(stage1|stage2|stage3|baseline|eval)[^ ]* ' "$1" 2> /dev/null; }
start=$(now_ms)
"$bin" train "$config" --out "$work/reference" > "$work/reference.out" 2> "$work/reference.err" &
pid=$!
load_ms=""
while kill -0 "$pid" 2> /dev/null; do
  [ -z "$load_ms" ] && started "$work/reference.err" && load_ms=$(( $(now_ms) - start ))
  sleep 0.005
done
wait "$pid"
train_ms=$(( $(now_ms) - start - ${load_ms:-0} ))
echo "crash-test: seed $seed; uninterrupted run: loading $load_ms ms, then training and evaluation $train_ms ms;" \
     "each run is killed at a uniform random moment in [0, $train_ms) ms after its first progress line"
declare -A hits=([loading]=0 [stage1]=0 [stage2]=0 [stage3]=0 [baseline]=0 [eval]=0)
kills=0 trials=0 attempts=0 temporaries=0 half_written=0 mismatched=0
enough() {
  [ "$kills" -ge "$kills_wanted" ] || return 1
  for s in stage1 stage2 stage3 baseline; do [ "${hits[$s]}" -ge "$hits_wanted" ] || return 1; done
}
until enough; do
  trials=$((trials + 1))
  [ "$trials" -le 200 ] || { echo "crash-test: gave up after 200 trials" >&2; exit 1; }
  dir="$work/trial$trials"
  resume=""
  while :; do
    attempts=$((attempts + 1))
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % train_ms ))
    "$bin" train "$config" --out "$dir" $resume > "$work/attempt$attempts.out" 2> "$work/attempt$attempts.err" &
    pid=$!
    while kill -0 "$pid" 2> /dev/null && ! started "$work/attempt$attempts.err"; do sleep 0.005; done
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL "$pid" 2> /dev/null || true
    rc=0
    wait "$pid" 2> /dev/null || rc=$?
    if [ "$rc" -eq 137 ]; then  # 128 + SIGKILL: the kill landed
      phase=$(phase_of "$work/attempt$attempts.err")
      kills=$((kills + 1))
      hits[$phase]=$(( ${hits[$phase]} + 1 ))
      left=$(find "$dir" -name '*.tmp.*' 2> /dev/null | wc -l)
      temporaries=$((temporaries + left))
      for f in "$dir"/*.safetensors; do
        [ -e "$f" ] || continue
        "$bin" inspect "$f" > /dev/null 2>> "$work/half-written.txt" || half_written=$((half_written + 1))
      done
      echo "  trial $trials attempt $attempts: killed $delay_ms ms into training, in $phase$( [ "$left" -gt 0 ] && echo ", $left temporary file(s) left")"
      resume=--resume
      continue
    fi
    if [ "$rc" -ne 0 ]; then
      echo "crash-test: trial $trials attempt $attempts failed (exit $rc):" >&2
      cat "$work/attempt$attempts.err" >&2
      exit 1
    fi
    break
  done
  same=yes
  for f in $files; do cmp -s "$work/reference/$f" "$dir/$f" || { same="no ($f differs)"; break; }; done
  if [ "$same" = yes ] && ! cmp -s <(untimed_log "$work/reference/log.jsonl") <(untimed_log "$dir/log.jsonl"); then
    same="no (log.jsonl differs)"
  fi
  stray=$(find "$dir" -name '*.tmp.*' | wc -l)
  [ "$stray" -eq 0 ] || same="no ($stray temporary files left after the run finished)"
  [ "$same" = yes ] || mismatched=$((mismatched + 1))
  echo "trial $trials: finished after $((attempts)) attempts in all; identical to the uninterrupted run: $same"
  rm -rf "$dir"
done

{
  echo "| | |"
  echo "|---|---|"
  echo "| command | \`scripts/crash-test.sh $seed\` (KILLS=$kills_wanted HITS=$hits_wanted, OMP_NUM_THREADS=$OMP_NUM_THREADS) |"
  echo "| config | \`$config\` (uninterrupted: loading $load_ms ms, training and evaluation $train_ms ms) |"
  echo "| kill moments | uniform in [0, $train_ms) ms after a run's first progress line |"
  echo "| SIGKILLs that landed | $kills, over $trials runs ($attempts starts of \`taper train\`) |"
  echo "| kills by phase | loading $((hits[loading])), stage 1 $((hits[stage1])), stage 2 $((hits[stage2])), stage 3 $((hits[stage3])), baseline $((hits[baseline])), evaluation $((hits[eval])) |"
  echo "| checkpoints that failed to validate after a kill | $half_written |"
  echo "| temporary files a kill left (removed by the next --resume) | $temporaries |"
  echo "| runs whose final bytes differ from the uninterrupted run | $mismatched of $trials |"
} > "$work/summary.md"
cat "$work/summary.md"
[ "$half_written" -eq 0 ] && [ "$mismatched" -eq 0 ]
