#!/bin/bash
# Train the runs of benchmarks/video.py into runs/video/, one after the other (re-running resumes an unfinished
# run): the deterministic SimVP (mmnist-simvp), the adversarial one (mmnist-simvp-gan), ConvLSTM (mmnist-convlstm).
set -u
cd "$(dirname "$0")/.."
source benchmarks/train_runs.sh
train_runs runs/video "simvp mmnist-simvp" "simvp-gan mmnist-simvp-gan" "convlstm mmnist-convlstm"
