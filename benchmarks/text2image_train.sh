#!/bin/bash
# Train what benchmarks/text2image.py scores: the digit classifier and the R-precision text model (into the
# gankit cache, when missing), then GAN-INT-CLS (captioned-mnist-gan-int-cls, with word attention) and the same
# with the sentence vector alone into runs/text2image/, one after the other, each alone on the machine
# (re-running resumes an unfinished run).
set -u
cd "$(dirname "$0")/.."
source benchmarks/train_runs.sh
cache=${GANKIT_CACHE:-$HOME/.cache/gankit}
[ -f "$cache/classifiers/mnist.safetensors" ] || .venv/bin/python -m gankit classifier train --data mnist --data-dir data/mnist
[ -f "$cache/text_models/captioned-mnist.safetensors" ] || .venv/bin/python -m gankit classifier text --data-dir data/mnist
train_runs runs/text2image "gan-int-cls captioned-mnist-gan-int-cls" \
  "gan-int-cls-sentence captioned-mnist-gan-int-cls text.g_attention=0"
