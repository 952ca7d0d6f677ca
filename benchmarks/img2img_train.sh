#!/bin/bash
# Train the three runs of benchmarks/img2img.py (pix2pix, L1-only, CycleGAN) into runs/bench/, one after the other
# (re-running resumes). The pix2pix runs score the test set every 2,000 steps (the FID curve of img2img.md).
# Each line of runs/bench/times.txt: name, exit code, wall seconds of the whole `gankit train` command.
set -u
cd "$(dirname "$0")/.."
P=.venv/bin/python
mkdir -p runs/bench
EVAL="monitor.eval_every=2000 monitor.metrics=fid,kid,l1,psnr,ssim"
for spec in "pix2pix_d2 facades-pix2pix $EVAL" "l1 facades-pix2pix pix2pix.lambda_gan=0 $EVAL" "cyclegan facades-cyclegan"; do
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
