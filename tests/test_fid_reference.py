"""End to end: gankit's FID / KID on two image folders against `torch_fidelity.calculate_metrics`.

Needs the real Inception weights in the torch hub cache
(`$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`) or at
`$GANKIT_TEST_INCEPTION_WEIGHTS`; skipped without them. 20 + 20 small images, Inception on the CPU.
"""
import os
from pathlib import Path

import pytest
import torch

from gankit.metrics import evaluate as ev
from gankit.metrics.inception import hub_weights_path, resolve_weights
from gankit.monitor.images import png_bytes, to_uint8

N = 20


def _weights() -> Path:
    given = os.environ.get("GANKIT_TEST_INCEPTION_WEIGHTS")
    path = Path(given) if given else hub_weights_path()
    if not path.is_file():
        pytest.skip(f"the Inception weights are not in '{path}' (set TORCH_HOME or GANKIT_TEST_INCEPTION_WEIGHTS)")
    return resolve_weights(str(path))  # follows a symlink checked out as a text file


def _write_folder(folder: Path, seed: int, shift: float) -> None:
    """N smooth 32x32 RGB images (upsampled noise), brighter with `shift`."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(N, 3, 4, 4, generator=g) * 2 - 1 + shift
    images = torch.nn.functional.interpolate(coarse, size=32, mode="bilinear", align_corners=False).clamp(-1, 1)
    folder.mkdir(parents=True)
    for i, img in enumerate(to_uint8(images)):
        (folder / f"{i:03d}.png").write_bytes(png_bytes(img))


def test_fid_and_kid_match_torch_fidelity(tmp_path):
    tf = pytest.importorskip("torch_fidelity")
    weights = _weights()
    real, fake = tmp_path / "real", tmp_path / "fake"
    _write_folder(real, seed=0, shift=0.0)
    _write_folder(fake, seed=1, shift=0.4)

    ours = {r.name: r for r in ev.evaluate((real, fake), "fid,kid", inception_weights=str(weights), batch_size=N)}
    ref = tf.calculate_metrics(input1=str(fake), input2=str(real), fid=True, kid=True, kid_subset_size=N,
                               feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(weights),
                               cuda=False, cache=False, verbose=False, batch_size=N, save_cpu_ram=True)
    assert ours["fid"].protocol["n_real"] == ours["fid"].protocol["n_fake"] == N
    assert ours["fid"].values["value"] > 1  # two different sets: the comparison is not 0 == 0
    assert ours["fid"].values["value"] == pytest.approx(ref[tf.KEY_METRIC_FID], rel=1e-4)
    assert ours["kid"].values["mean"] == pytest.approx(ref[tf.KEY_METRIC_KID_MEAN], rel=1e-4)
    assert ours["kid"].values["std"] is None  # every subset is the whole sample (torch-fidelity: round-off)
