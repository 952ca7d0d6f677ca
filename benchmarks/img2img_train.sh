#!/bin/bash
# Train the three runs of benchmarks/img2img.py (pix2pix, L1-only, CycleGAN) into runs/bench/, one after the other
# (re-running resumes). The pix2pix runs score the test set every 2,000 steps (the FID curve of img2img.md).
set -u
cd "$(dirname "$0")/.."
source benchmarks/train_runs.sh
EVAL="monitor.eval_every=2000 monitor.metrics=fid,kid,l1,psnr,ssim"
train_runs runs/bench "pix2pix_d2 facades-pix2pix $EVAL" "l1 facades-pix2pix pix2pix.lambda_gan=0 $EVAL" \
  "cyclegan facades-cyclegan"
