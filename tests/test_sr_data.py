"""The super-resolution data source: HR folders, bicubic LR, aligned crops with dihedral transforms, exact state."""
import warnings

import pytest
import torch

from gankit.data import load_dataset
from gankit.data.resize import imresize
from gankit.data.sr import SRBatches, dihedral, sr
from gankit.errors import DataError

from sr_fixtures import write_hr


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.fixture()
def hr_dir(tmp_path):
    write_hr(tmp_path / "hr", sizes=[(40, 36), (37, 50), (44, 44), (33, 41), (48, 30), (36, 36)])
    return tmp_path / "hr"


def test_load_crops_to_the_scale_and_makes_bicubic_lr(hr_dir):
    data = sr(dir=str(hr_dir), scale=4, crop=16)
    assert len(data) == 6 and data.kind == "sr" and data.shape == (3, 16, 16)
    assert data.info["scale"] == 4 and "matlab" in data.info["lr_kernel"].lower()
    hr1, lr1 = data.hr[1], data.lr[1]
    assert tuple(hr1.shape) == (3, 36, 48) and tuple(lr1.shape) == (3, 9, 12)  # 37x50 cropped to 36x48
    assert hr1.dtype == lr1.dtype == torch.uint8
    expected = imresize(hr1.double(), scale=0.25).round().clamp(0, 255)
    assert torch.equal(lr1.double(), expected)
    data3 = load_dataset("sr", dir=str(hr_dir), scale=3, crop=15)
    assert tuple(data3.hr[1].shape) == (3, 36, 48) and tuple(data3.lr[1].shape) == (3, 12, 16)


def test_several_folders_and_small_images_skipped(tmp_path, hr_dir):
    write_hr(tmp_path / "more", sizes=[(12, 40), (40, 40)], seed=3, prefix="m")
    with pytest.warns(UserWarning, match="1 of 8 training images smaller than data.crop=16"):
        data = sr(dir=f"{hr_dir},{tmp_path / 'more'}", scale=4, crop=16)
    assert len(data) == 7 and data.names[-1] == "more/m1" and data.names[0] == "hr/hr0"
    with pytest.raises(DataError) as err:
        sr(dir=str(tmp_path / "more"), scale=4, crop=48)
    assert "smaller than data.crop=48" in one_line(err) and "lower data.crop" in str(err.value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(scale=5, crop=20), "data.scale must be 2, 3 or 4"),
    (dict(scale=4, crop=18), "data.crop must be a positive multiple of data.scale=4"),
    (dict(dir=None), "data.dir is not set"),
    (dict(dir="/no/such/folder"), "does not exist"),
])
def test_bad_settings_are_one_line_errors(hr_dir, kwargs, match):
    args = {"dir": str(hr_dir), "scale": 4, "crop": 16, **kwargs}
    with pytest.raises(DataError) as err:
        sr(**args)
    assert match in one_line(err)


def test_corrupt_file_is_named_or_skipped(hr_dir):
    bad = hr_dir / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DataError) as err:
        sr(dir=str(hr_dir), scale=4, crop=16)
    assert "broken.png" in one_line(err) and "data.on_corrupt=skip" in str(err.value)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        data = sr(dir=str(hr_dir), scale=4, crop=16, on_corrupt="skip")
    assert len(data) == 6


def test_test_split_keeps_whole_images_and_gray(tmp_path, hr_dir):
    write_hr(tmp_path / "test", sizes=[(21, 30), (20, 20)], gray=[1], prefix="t")
    data = sr(dir=str(hr_dir), test_dir=str(tmp_path / "test"), split="test", scale=4, crop=16)
    items = list(data.items())
    assert [i["names"] for i in items] == [["t0"], ["t1"]]
    assert tuple(items[0]["hr"].shape) == (1, 3, 20, 28) and tuple(items[0]["lr"].shape) == (1, 3, 5, 7)
    assert items[1]["hr"].shape[1] == 1  # gray stays gray
    assert items[0]["hr"].min() >= -1 and items[0]["hr"].max() <= 1
    with pytest.raises(DataError) as err:
        sr(dir=str(hr_dir), split="test", scale=4, crop=16)
    assert "data.test_dir is not set" in one_line(err) and "pass data.test_dir=" in str(err.value)
    write_hr(tmp_path / "tiny", sizes=[(40, 40), (18, 30)], prefix="s")
    with pytest.raises(DataError) as err:
        sr(test_dir=str(tmp_path / "tiny"), split="test", scale=4, crop=16)
    assert "'s1' is smaller than 19 px" in one_line(err)
    assert len(sr(dir=str(hr_dir), test_dir=str(tmp_path / "test"), split="test", n=1)) == 2  # n caps training only


def test_dihedral_gives_the_eight_symmetries():
    x = torch.arange(6).view(1, 2, 3)
    outs = {tuple(dihedral(x, t).flatten().tolist()) + tuple(dihedral(x, t).shape) for t in range(8)}
    assert len(outs) == 8
    assert torch.equal(dihedral(x, 4), x.transpose(-1, -2)) and torch.equal(dihedral(x, 1), x.flip(-1))


def test_batches_are_aligned_crops_with_the_same_transform(hr_dir):
    data = sr(dir=str(hr_dir), scale=4, crop=16)
    batch = data.batches(8, seed=0).next()
    lr, hr = batch["lr"], batch["hr"]
    assert tuple(lr.shape) == (8, 3, 4, 4) and tuple(hr.shape) == (8, 3, 16, 16)
    assert lr.dtype == torch.float32 and lr.min() >= -1 and hr.max() <= 1
    # each LR crop is (up to the crop's border and rounding) the bicubic downscale of its HR crop
    down = imresize(hr.double(), scale=0.25)
    inner = (down - lr.double())[..., 1:-1, 1:-1].abs()
    assert inner.mean() < 0.02
    shuffled = (imresize(hr.flip(-1).double(), scale=0.25) - lr.double())[..., 1:-1, 1:-1].abs()
    assert shuffled.mean() > 5 * inner.mean()  # a mismatched transform would be caught


def test_batch_state_resumes_the_exact_sequence(hr_dir):
    data = sr(dir=str(hr_dir), scale=4, crop=16)
    a = data.batches(4, seed=7)
    for _ in range(3):
        a.next()
    state = a.state_dict()
    want = [a.next() for _ in range(4)]
    b = data.batches(4, seed=7)
    b.load_state_dict(state)
    got = [b.next() for _ in range(4)]
    for x, y in zip(want, got):
        assert torch.equal(x["lr"], y["lr"]) and torch.equal(x["hr"], y["hr"])
    other = data.batches(4, seed=8).next()
    assert not torch.equal(other["hr"], data.batches(4, seed=7).next()["hr"])
    with pytest.raises(DataError) as err:
        b.load_state_dict({"sampler": {}})
    assert "malformed" in one_line(err)


def test_ranks_share_one_global_batch(hr_dir):
    data = sr(dir=str(hr_dir), scale=4, crop=16)
    whole = data.batches(6, seed=1).next()
    parts = [SRBatches(data, 6, seed=1, rank=r, world=2).next() for r in range(2)]
    assert torch.equal(torch.cat([p["hr"] for p in parts]), whole["hr"])
    assert torch.equal(torch.cat([p["lr"] for p in parts]), whole["lr"])


def test_more_crops_than_images(hr_dir):
    data = sr(dir=str(hr_dir), scale=4, crop=16, n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = data.batches(5, seed=0).next()
    assert batch["hr"].shape[0] == 5 and len(data) == 2
