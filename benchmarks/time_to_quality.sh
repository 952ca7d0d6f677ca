#!/bin/bash
# Issue 16's time-to-quality benchmark: for each target, the plain baseline preset and the best recipe, every
# run trained alone on this machine (one after the other) with snapshots at fixed minutes, then scored; then
# benchmarks/results/time_to_quality.md from the targets' results. Re-running resumes unfinished runs and
# scores only what is new. Give one target (grid, mnist, stacked) to run only that one.
set -eu
cd "$(dirname "$0")/.."
py=.venv/bin/python
runs=runs/i16/ttq
want=${1:-all}
if [ "$want" = all ] || [ "$want" = grid ]; then
  $py benchmarks/time_to_quality.py --target grid --recipe baseline=grid-pacgan --recipe best=grid-best \
    --seeds 10 --set train.threads=2 --runs $runs
fi
if [ "$want" = all ] || [ "$want" = mnist ]; then
  $py benchmarks/time_to_quality.py --target mnist --marks 2,5,10,15,20,30,45,60 --recipe baseline=mnist-dcgan \
    --recipe best=mnist-best --recipe best60=mnist-best@train.steps=50000 --set data.dir=data/mnist --runs $runs
fi
if [ "$want" = all ] || [ "$want" = stacked ]; then
  $py benchmarks/time_to_quality.py --target stacked --recipe best=mnist-best@data.name=stacked-mnist@gan.pack=2@train.steps=50000 \
    --recipe baseline=mnist-dcgan@data.name=stacked-mnist --set data.dir=data/mnist --runs $runs
fi
$py benchmarks/time_to_quality.py --summary
