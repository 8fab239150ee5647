#!/bin/bash
# The one prepared command for a lent GPU machine (one H200, CUDA 13 and
# cuDNN 9 from its Python packages, no network, 15 minutes of device time):
#
#   here:   scripts/gpu-pack.sh        (packs .gpu-carry/: Debian headers and
#                                       libraries, a CIFAR-100 subset)
#   there:  run(command="TAPER_COMMIT=$(git rev-parse HEAD) bash scripts/gpu-check.sh",
#               carry=[".gpu-carry"], timeout_s=540)
#
# It finds CUDA, cuBLAS and cuDNN at run time (nvcc's toolkit, then the
# nvidia-* Python packages), builds build/taper, build/taper_tests and
# build/bench_device_train there, runs every GPU test (failing when any of
# them skipped), the benchmarks (ResNet-18 CIFAR training images/s with TF32
# off and on, personalization latency), and a CPU-vs-GPU smoke run of TAPER
# on the carried CIFAR-100 subset; a gpu-scale table when its experiments
# exist and time remains. Everything goes under $OUT (default build/gpu-check),
# in at most 6 files (the device tool brings back 8): summary.txt, build.log,
# tests.log, bench.json, runs.txt, results.json. Exit status: 0 when
# everything ran and passed. Designed to finish in under 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-check}
mkdir -p "$OUT"
BUDGET=${BUDGET:-470}  # seconds for the whole script
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "gpu-check [$(elapsed)s]: $*" | tee -a "$OUT/summary.txt"; }
failed=0
fail() { say "FAILED: $*"; failed=1; }
: > "$OUT/summary.txt"

say "commit ${TAPER_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu: /' | tee -a "$OUT/summary.txt"
say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

# ---- 1. the carried Debian files and data ----
SYSROOT=/tmp/taper-sysroot
if [ -f .gpu-carry/sysroot.tar.xz ]; then
  rm -rf "$SYSROOT" && mkdir -p "$SYSROOT"
  tar -xJf .gpu-carry/sysroot.tar.xz -C "$SYSROOT" --strip-components=1 || fail "cannot unpack sysroot.tar.xz"
  sysroot_arg="SYSROOT=$SYSROOT"
else
  say "no .gpu-carry/sysroot.tar.xz (run scripts/gpu-pack.sh here first): building against installed packages"
  SYSROOT="" sysroot_arg=""
fi
if [ -f .gpu-carry/cifar100-subset.tar.xz ]; then
  mkdir -p /tmp/taper-data && tar -xJf .gpu-carry/cifar100-subset.tar.xz -C /tmp/taper-data --strip-components=1
  export TAPER_DATA=/tmp/taper-data
fi

# ---- 2. CUDA, cuBLAS and cuDNN, wherever this machine has them ----
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
[ -n "$NVCC" ] || { fail "no nvcc"; exit 1; }
CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$NVCC")")")
SITE=$(python3 -c 'import site; print(" ".join(p for p in site.getsitepackages()))' 2>/dev/null)
# The folder of the first file named $1 under the given roots.
folder_of() {
  local name=$1 root f; shift
  for root in "$@"; do
    [ -d "$root" ] || continue
    f=$(find -L "$root" -maxdepth 6 -name "$name" -print -quit 2>/dev/null)
    [ -n "$f" ] && { dirname "$f"; return 0; }
  done
  return 1
}
nvidia_dirs=$(for s in $SITE; do [ -d "$s/nvidia" ] && echo "$s/nvidia"; done)
CUDNN_INC=$(folder_of cudnn.h $CUDA_HOME/include $nvidia_dirs /usr/include)
CUDNN_LIB=$(folder_of libcudnn.so.9 "$(dirname "${CUDNN_INC:-/nonexistent}")/lib" $CUDA_HOME/lib64 $nvidia_dirs /usr/lib/x86_64-linux-gnu)
CUBLAS_INC=$(folder_of cublas_v2.h $CUDA_HOME/include $nvidia_dirs)
CUBLAS_LIB=$(folder_of libcublas.so.13 $CUDA_HOME/lib64 $CUDA_HOME/lib $nvidia_dirs)
CUDART_LIB=$(folder_of libcudart.so.13 $CUDA_HOME/lib64 $CUDA_HOME/lib $nvidia_dirs)
say "nvcc $NVCC ($($NVCC --version | grep -o 'release [0-9.]*'))"
say "cuDNN headers $CUDNN_INC, libraries $CUDNN_LIB; cuBLAS $CUBLAS_INC, $CUBLAS_LIB; cudart $CUDART_LIB"
for v in CUDNN_INC CUDNN_LIB CUBLAS_INC CUBLAS_LIB CUDART_LIB; do
  [ -n "${!v}" ] || { fail "$v not found"; exit 1; }
done
lib_dirs="$CUDNN_LIB $CUBLAS_LIB $CUDART_LIB"
export LD_LIBRARY_PATH="$(echo $lib_dirs | tr ' ' ':')${SYSROOT:+:$SYSROOT/usr/lib/x86_64-linux-gnu}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- 3. build ----
say "building (make -j$(nproc) CUDA=1)"
timeout 300 make -j"$(nproc)" CUDA=1 $sysroot_arg NVCC="$NVCC" CUDA_INCLUDE_DIRS="$CUDNN_INC $CUBLAS_INC $CUDA_HOME/include" \
  CUDA_LIB_DIRS="$lib_dirs" build/taper build/taper_tests build/bench_device_train > "$OUT/build.log" 2>&1 \
  || { fail "build (see build.log)"; tail -30 "$OUT/build.log"; exit 1; }
say "built"

# ---- 4. the GPU tests: every op against the CPU, memory, the trainer ----
timeout 240 build/taper_tests -tc='cuda*' > "$OUT/tests.log" 2>&1
rc=$?
tail -4 "$OUT/tests.log" | tee -a "$OUT/summary.txt"
[ $rc -eq 0 ] || fail "GPU tests (exit $rc, see tests.log)"
if grep -q "skipped (needs a GPU)" "$OUT/tests.log"; then fail "GPU tests skipped: $(grep -m1 'skipped (needs a GPU)' "$OUT/tests.log")"; fi

# ---- 5. benchmarks ----
: > "$OUT/bench.json"
for flags in "" "--tf32"; do
  [ "$(left)" -gt 150 ] || { say "no time left for bench $flags"; break; }
  timeout 120 build/bench_device_train --device cuda --arch resnet18 --batch 128 --steps 30 $flags \
    --json /tmp/bench.json 2>&1 | tee -a "$OUT/summary.txt" || fail "bench_device_train $flags"
  cat /tmp/bench.json >> "$OUT/bench.json" 2>/dev/null
done

# ---- 6. TAPER on CPU and GPU: the smoke config on the carried subset ----
: > "$OUT/runs.txt"
if [ -n "${TAPER_DATA:-}" ] && [ "$(left)" -gt 120 ]; then
  # Each run gets at most half of what is left (150 s at most): the GPU's first.
  for dev in cuda cpu; do
    rm -rf "/tmp/smoke-$dev"
    t0=$(date +%s)
    limit=$(( ($(left) - 40) / 2 )); [ $limit -gt 150 ] && limit=150
    timeout $limit build/taper train experiments/tiny/smoke.toml --out "/tmp/smoke-$dev" --device $dev > "/tmp/smoke-$dev.log" 2>&1 \
      || fail "smoke run on $dev (see runs.txt)"
    { echo "== smoke on $dev ($(( $(date +%s) - t0 )) s)"; tail -8 "/tmp/smoke-$dev.log"; cat "/tmp/smoke-$dev/eval.json" 2>/dev/null;
      cat "/tmp/smoke-$dev/log.jsonl" 2>/dev/null; } >> "$OUT/runs.txt"
  done
  python3 - /tmp/smoke-cpu/eval.json /tmp/smoke-cuda/eval.json <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
try:
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
except Exception as e:
    print("smoke comparison: missing eval.json:", e); sys.exit(0)
for k in sorted(k for k in a if "@" not in k and isinstance(a[k], float)):
    print(f"smoke {k}: cpu {100*a[k]:.2f}%  cuda {100*b.get(k, float('nan')):.2f}%")
PY
else
  say "smoke runs skipped (no carried CIFAR-100 subset, or no time)"
fi

# ---- 7. one gpu-scale table, if the harness has one and time remains ----
if [ -d experiments/gpu ] && [ -n "${TAPER_DATA:-}" ] && [ "$(left)" -gt 90 ]; then
  say "gpu scale: table2 with $(left) s left"
  timeout $(( $(left) - 20 )) build/taper reproduce --scale gpu --only table2 --device cuda >> "$OUT/runs.txt" 2>&1 \
    && cp results/gpu/table2.json "$OUT/results.json" || say "gpu-scale table2 did not finish (see runs.txt)"
else
  say "gpu-scale table skipped (no experiments/gpu, no data, or no time)"
fi

say "done in $(elapsed) s; $([ $failed -eq 0 ] && echo 'all passed' || echo 'SOMETHING FAILED')"
exit $failed
