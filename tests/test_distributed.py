"""Two gloo processes on the CPU: `gankit train` under torchrun (against one process with the same global
batch, and resumed against uninterrupted), and spawned in-process checks of the pieces.

DDP's buffer broadcast with BatchNorm in D fails only with CUDA's kernels (see `gankit.distributed`):
here the BatchNorm run shows that the policy without the broadcast trains and resumes exactly.
"""
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gankit import api
from gankit.checkpoint import atomic_write_text, load_checkpoint, save_checkpoint
from gankit.config import load_config
from gankit.distributed import DistInfo
from gankit.methods import DataSpec, build_method
from gankit.rng import capture_rng, restore_rng, seed_everything

TOLERANCE = 1e-4  # max |w_2proc - w_1proc|: float reduction order differs, nothing else

KEYS = ["train.progress=none", "train.tensorboard=false", "train.batch_size=16", "train.log_every=2",
        "train.sample_every=100", "train.checkpoint_every=3", "train.device=cpu",
        "data.size=8", "model.z_dim=8", "model.g.width=8", "model.d.width=8", "gan.ema=0.9", "gan.pack=2"]
SYNC_BN = [*KEYS, "train.sync_bn=true"]
LOCAL_BN_GP = [*KEYS, "loss.gp=1"]  # the preset's D has BatchNorm; train.sync_bn stays false


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


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_match_one(tmp_path):
    """Synchronised BatchNorm, EMA and packing: 2 processes follow 1 process with the same global batch."""
    two = tmp_path / "two"
    torchrun([f"run.dir={two}", "train.steps=6", *SYNC_BN], tmp_path)
    one = api.train(load_config(overrides=[f"run.dir={tmp_path / 'one'}", "train.steps=6", *SYNC_BN]))
    a, b = load_checkpoint(one).weights, load_checkpoint(two).weights
    assert a.keys() == b.keys() == {"G", "D", "G_ema"}
    worst = max(float((a[n][k].float() - b[n][k].float()).abs().max()) for n in a for k in a[n])
    assert worst < TOLERANCE
    assert any(float(a["G"][k].float().abs().sum()) > 0 for k in a["G"])
    assert [r["step"] for r in records(two)] == [2, 3, 4, 6]  # rank 0 alone logs (every 2 steps and at each checkpoint)


def test_local_batchnorm_gp_ema_packing_run_resumes_exactly(tmp_path):
    """BatchNorm in D without sync_bn, GP (autograd.grad through D's DDP wrapper), EMA and packing in
    one 2-process run; resumed from its step-3 checkpoint, it ends bit-exact on the uninterrupted run."""
    run = tmp_path / "run"
    torchrun([f"run.dir={run}", "train.steps=6", *LOCAL_BN_GP], tmp_path)
    assert all(math.isfinite(r["gp"]) for r in records(run))
    uninterrupted = load_checkpoint(run).weights
    assert next(w for w in uninterrupted["D"].values() if w.ndim == 4).shape[1] == 2  # pairs of 1-channel images
    assert "G_ema" in uninterrupted

    shutil.rmtree(run / "checkpoints" / "step-00000006")  # as if the run had died after step 3
    atomic_write_text(run / "checkpoints" / "latest", "step-00000003\n")
    torchrun(["--resume", str(run)], tmp_path)
    resumed = load_checkpoint(run)
    assert resumed.step == 6 and resumed.weights.keys() == uninterrupted.keys()
    for net, sd in uninterrupted.items():
        for key, value in sd.items():
            assert torch.equal(resumed.weights[net][key], value), f"{net}.{key} differs after resume"


# --------------------------------------------------------------------------- spawned gloo groups

def spawn(fn, *args, world: int = 2) -> None:
    """Run `fn(DistInfo, *args)` in `world` processes of a gloo group (a failure in one fails the test)."""
    mp.spawn(_join, args=(world, free_port(), fn, args), nprocs=world)


def _join(rank, world, port, fn, args):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(DistInfo(rank, world), *args)
        dist.barrier()  # no rank tears gloo down while another still talks to it (an abort at exit, seen in CI)
    finally:
        dist.destroy_process_group()


def draws() -> list:
    """The next python, numpy and torch numbers (Gaussians too: their cached halves are state)."""
    return [random.random(), random.gauss(0, 1), float(np.random.randn()), torch.rand(3).tolist()]


def _rng_worker(info, root):
    seed_everything(100 + info.rank)  # streams that differ per rank (training keeps them equal)
    draws()
    state = capture_rng(info)
    expected = draws()
    if info.is_main:  # as the trainer does: rank 0 writes, every rank reads
        save_checkpoint(root, "step-1", {}, {"rng": state}, {"step": 1})
        (root / "rank0.json").write_text(json.dumps(expected))
    dist.barrier()
    restore_rng(load_checkpoint(root).state["rng"], info)
    assert draws() == expected, f"rank {info.rank} did not get its own RNG state back"


def test_each_rank_restores_its_own_rng_state(tmp_path):
    spawn(_rng_worker, tmp_path)
    saved = capture_rng()
    try:  # one process resuming the 2-process checkpoint continues rank 0's streams
        restore_rng(load_checkpoint(tmp_path).state["rng"])
        assert draws() == json.loads((tmp_path / "rank0.json").read_text())
    finally:
        restore_rng(saved)


def _gp_worker(info, overrides):
    cfg = load_config(overrides=overrides)
    ds = api.dataset_for(cfg)
    spec = DataSpec.from_dataset(ds)
    methods = []
    for _ in range(2):
        torch.manual_seed(0)
        methods.append(build_method(cfg, spec, torch.device("cpu")))
    ddp, alone = methods
    ddp.distribute(info)
    real, fake = ds.x[:16], torch.randn(16, *spec.shape)
    halves = [slice(8 * r, 8 * r + 8) for r in range(info.world)]
    torch.manual_seed(1)  # the same interpolation weights on every rank, and for each half below
    ddp._d_losses(real[halves[info.rank]], None, fake[halves[info.rank]], None, 0.0)[0].backward()
    for half in halves:
        torch.manual_seed(1)
        (alone._d_losses(real[half], None, fake[half], None, 0.0)[0] / info.world).backward()
    for (name, p), q in zip(ddp.Ds[0].named_parameters(), alone.Ds[0].parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=lambda m, name=name: f"{name}: {m}")


def test_gradient_penalty_through_ddp_averages_like_one_process():
    """D's loss with GP (autograd.grad with create_graph through the DDP wrapper), BatchNorm and packing:
    the gradients DDP averages equal those of the mean of the ranks' losses in one process."""
    spawn(_gp_worker, LOCAL_BN_GP)
