#!/bin/sh
# `make demo`: train a small TAPER on CIFAR-100 into runs/demo (resuming if
# interrupted), report standard / classifier-selection / TAPER accuracy,
# personalize a model for a few fruit-and-vegetable classes and classify a few
# test images with that model file alone.
set -eu
cd "$(dirname "$0")/.."
run=runs/demo
classes="apple,orange,pear,sweet_pepper,mushroom"
build/taper train experiments/demo.toml --out "$run" --resume
build/taper personalize "$run" --classes "$classes" --out "$run/fruit.safetensors"
rm -rf "$run/samples"
build/taper dataset cifar100 --tasks 0 --export "$run/samples" --classes "$classes" --count 6 > /dev/null
build/taper predict "$run/fruit.safetensors" "$run"/samples/*.png
