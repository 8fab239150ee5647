#!/bin/sh
# Measures the choices the paper leaves open (README, "How the paper maps to
# the code"): where the stem and the classifier take their mixers from, how
# BatchNorm running statistics are personalized, block-wise vs single mixers.
# All variants share stages 1 and 2 (copied checkpoints) and differ in stage 3.
# Writes results/design/mixer-choices.md. Usage: scripts/measure-mixer-choices.sh [SEEDS]
set -eu
cd "$(dirname "$0")/.."
seeds=${1:-"0 1"}
out=results/design/mixer-choices.md
work=runs/mixer-choices
mkdir -p "$work" results/design

config() {  # seed stem classifier bn mixers
  cat <<TOML
seed = $1
[data]
dataset = "cifar100"
classes = 20
train_per_class = 100
test_per_class = 50
[model]
arch = "resnet8"
width = 0.5
[tasks]
sampler = "wordnet-nearest"
k = 5
[taper]
bases = 4
groups = 4
predictor_hidden = 32
stem_mixer = "$2"
classifier_mixer = "$3"
bn_stats = "$4"
mixers = "$5"
[optim]
batch = 64
lr = 0.05
schedule = "cosine"
[stage1]
epochs = 8
[stage2]
epochs = 2
[stage3]
epochs = 4
[baseline]
epochs = 0
TOML
}

variants="first-stage,last-stage,mixed,block own,last-stage,mixed,block first-stage,own,mixed,block first-stage,last-stage,shared,block first-stage,last-stage,mixed,single"
start=$(date +%s)
{
  echo "# Mixer choices: stem, classifier, BatchNorm statistics, block-wise vs single"
  echo
  echo "command: \`scripts/measure-mixer-choices.sh \"$seeds\"\`; commit $(git rev-parse --short HEAD);"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores."
  echo "Setting: CIFAR-100, 20 classes, 100 train / 50 test images per class, ResNet-8 at width 0.5,"
  echo "4 bases, WordNet-nearest 5-way tasks, epochs 8/2/4; TAPER accuracy under the paper's protocol"
  echo "(each test image with its own task). Stages 1 and 2 are shared by all variants of a seed."
  echo
  echo "| stem mixer | classifier mixer | BN statistics | mixers | seed | TAPER accuracy | stage-1 classifier selection |"
  echo "|---|---|---|---|---|---|---|"
} > "$out.tmp"
for seed in $seeds; do
  base="$work/seed$seed-base"
  for v in $variants; do
    IFS=, read -r stem cls bn mixers <<EOF2
$v
EOF2
    dir="$work/seed$seed-$stem-$cls-$bn-$mixers"
    config "$seed" "$stem" "$cls" "$bn" "$mixers" > "$work/config.toml"
    if [ ! -d "$dir" ] && [ -d "$base" ]; then
      mkdir -p "$dir" && cp "$base"/stage1.safetensors "$base"/stage2.*.safetensors "$dir"/
    fi
    build/taper train "$work/config.toml" --out "$dir" --resume > "$dir.log" 2>&1
    [ -d "$base" ] || cp -r "$dir" "$base"
    acc=$(python3 -c "import json;e=json.load(open('$dir/eval.json'));print(f\"{100*e['taper_personalized']:.2f} | {100*e['stage1_classifier_selection']:.2f}\")")
    echo "| $stem | $cls | $bn | $mixers | $seed | $acc |" >> "$out.tmp"
  done
done
python3 - "$out.tmp" >> "$out.tmp" <<'PY'
import statistics, sys
rows = [l.split("|")[1:-1] for l in open(sys.argv[1]) if l.startswith("| ") and l[2].isalpha() and "stem" not in l]
by = {}
for r in rows:
    by.setdefault(tuple(x.strip() for x in r[:4]), []).append(float(r[5]))
print("\n| stem mixer | classifier mixer | BN statistics | mixers | TAPER accuracy, mean +- std over seeds |")
print("|---|---|---|---|---|")
for k, v in by.items():
    print(f"| {' | '.join(k)} | {statistics.mean(v):.2f} +- {statistics.stdev(v) if len(v) > 1 else 0:.2f} (n={len(v)}) |")
PY
echo >> "$out.tmp"
echo "wall time: $(( $(date +%s) - start )) s" >> "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
