#!/bin/bash
# Train the runs of benchmarks/sr.py into runs/sr/, one after the other (re-running resumes an unfinished run):
# SRResNet (sr-srresnet), ESPCN (sr-espcn), SRGAN from the SRResNet run (sr-srgan).
set -u
cd "$(dirname "$0")/.."
source benchmarks/train_runs.sh
train_runs runs/sr "srresnet sr-srresnet" "espcn sr-espcn" "srgan sr-srgan sr.init_from=runs/sr/srresnet"
