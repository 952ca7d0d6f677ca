#!/bin/bash
# Train the four runs of benchmarks/img2img.py (pix2pix with 34x34 and 70x70 patches, L1-only, CycleGAN) into runs/bench/, one after the other (re-running resumes).
# Each line of runs/bench/times.txt: name, exit code, wall seconds of the whole `gankit train` command.
set -u
cd "$(dirname "$0")/.."
P=.venv/bin/python
mkdir -p runs/bench
for spec in "pix2pix_d2 facades-pix2pix" "pix2pix_d3 facades-pix2pix pix2pix.d_layers=3" "l1 facades-pix2pix pix2pix.lambda_gan=0" \
            "cyclegan facades-cyclegan"; do
  set -- $spec; name=$1; preset=$2; shift 2
  [ -f runs/bench/$name/done ] && continue
  start=$(date +%s)
  if [ -d runs/bench/$name/checkpoints ]; then
    $P -m gankit train --resume runs/bench/$name train.progress=lines > runs/bench/$name.log 2>&1
  else
    $P -m gankit train --preset $preset "$@" run.dir=runs/bench/$name train.progress=lines > runs/bench/$name.log 2>&1
  fi
  rc=$?
  echo "$name rc=$rc seconds=$(( $(date +%s) - start ))" >> runs/bench/times.txt
  [ $rc = 0 ] && touch runs/bench/$name/done
done
