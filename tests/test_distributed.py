"""Two gloo processes on the CPU (torchrun) against one process with the same global batch."""
import json
import os
import socket
import subprocess
import sys

import torch

from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.config import load_config

TOLERANCE = 1e-4  # max |w_2proc - w_1proc|: float reduction order differs, nothing else

KEYS = ["train.progress=none", "train.tensorboard=false", "train.batch_size=16", "train.log_every=2",
        "train.sample_every=100", "train.checkpoint_every=3", "train.sync_bn=true", "train.device=cpu",
        "data.size=8", "model.z_dim=8", "model.g.width=8", "model.d.width=8"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(free_port()), "-m", "gankit", "train", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_processes_match_one_and_resume(tmp_path):
    two = tmp_path / "two"
    torchrun([f"run.dir={two}", "train.steps=6", *KEYS], tmp_path)
    one = api.train(load_config(overrides=[f"run.dir={tmp_path / 'one'}", "train.steps=6", *KEYS]))
    a, b = load_checkpoint(one).weights, load_checkpoint(two).weights
    assert a.keys() == b.keys()
    worst = max(float((a[n][k].float() - b[n][k].float()).abs().max()) for n in a for k in a[n])
    assert worst < TOLERANCE
    assert any(float(a["G"][k].float().abs().sum()) > 0 for k in a["G"])
    steps = [json.loads(line)["step"] for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]  # rank 0 alone logs (every 2 steps and at each checkpoint)
    torchrun(["--resume", str(two), "train.steps=9"], tmp_path)
    assert load_checkpoint(two).step == 9
