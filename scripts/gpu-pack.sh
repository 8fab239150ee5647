#!/bin/sh
# Run HERE (a developer machine, Debian 12, packages installed by `make deps`)
# before a lent-GPU call. The GPU machine has CUDA, cuDNN and a compiler but
# none of our Debian packages, and no network, so this packs into .gpu-carry/
# (git-ignored, carried by the call) what scripts/gpu-check.sh needs there:
#
#   sysroot.tar.xz        the build's Debian headers and shared libraries
#                         (OpenBLAS, TurboJPEG, doctest, nlohmann-json, toml++,
#                         stb, and their runtime dependencies), from this machine
#   cifar100-subset.tar.xz  CIFAR-100 in its own binary format, the first
#                         TRAIN (default 60) and TEST (default 20) images of
#                         every class, when the data root holds CIFAR-100
#
# Then, with the device tool:  run(command="bash scripts/gpu-check.sh", carry=[".gpu-carry"])
set -eu
cd "$(dirname "$0")/.."
TRAIN=${TRAIN:-60}
TEST=${TEST:-20}
out=.gpu-carry
rm -rf "$out" && mkdir -p "$out/sysroot"

packages="libopenblas-openmp-dev libopenblas0-openmp libgfortran5 libquadmath0 doctest-dev nlohmann-json3-dev
libturbojpeg0-dev libturbojpeg0 libstb-dev libstb0 libtomlplusplus-dev libtomlplusplus3"
for pkg in $packages; do
  dpkg-query -W "$pkg" >/dev/null 2>&1 || { echo "gpu-pack: $pkg is not installed here (make deps)" >&2; exit 1; }
  # Headers and shared libraries only: no static archives, docs or cmake files.
  dpkg -L "$pkg" | while read -r f; do
    case "$f" in
      *.a|/usr/share/*|*/cmake/*|*/pkgconfig/*) continue ;;
    esac
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p "$out/sysroot$(dirname "$f")"
      cp -P "$f" "$out/sysroot$f"
    fi
  done
done
tar -C "$out" -cJf "$out/sysroot.tar.xz" sysroot && rm -rf "$out/sysroot"

root=${TAPER_DATA:-data}
if [ -f "$root/cifar-100-binary/train.bin" ]; then
  python3 - "$root/cifar-100-binary" "$out/data/cifar-100-binary" "$TRAIN" "$TEST" <<'PY'
import os, shutil, sys
src, dst, per_split = sys.argv[1], sys.argv[2], {"train": int(sys.argv[3]), "test": int(sys.argv[4])}
os.makedirs(dst, exist_ok=True)
for split, per_class in per_split.items():
    data = open(os.path.join(src, split + ".bin"), "rb").read()
    kept, count = [], [0] * 100
    for r in range(len(data) // 3074):
        rec = data[r * 3074:(r + 1) * 3074]
        if count[rec[1]] < per_class:
            count[rec[1]] += 1
            kept.append(rec)
    open(os.path.join(dst, split + ".bin"), "wb").write(b"".join(kept))
for name in ("fine_label_names.txt", "coarse_label_names.txt"):
    shutil.copy(os.path.join(src, name), dst)
PY
  tar -C "$out" -cJf "$out/cifar100-subset.tar.xz" data && rm -rf "$out/data"
else
  echo "gpu-pack: no CIFAR-100 under $root: gpu-check.sh will skip the runs that need it"
fi
du -sh "$out"/*
