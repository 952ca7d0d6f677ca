"""The video-prediction networks: shapes, roll-outs past the trained horizon, bad input, self-description."""
import pytest
import torch
from torch.nn.utils import parametrize

from gankit.errors import ConfigError
from gankit.nn.video import VIDEO_NETS, ConvLSTM, SequenceDiscriminator, SimVP, large_kernel

torch.set_num_threads(1)
SMALL_SIMVP = dict(channels=1, frames_in=4, frames_out=3, hidden_s=8, hidden_t=16, spatial=4, temporal=2)
SMALL_LSTM = dict(channels=1, frames_in=4, frames_out=3, hidden=8, layers=2, kernel=3, patch=4)
PATCH_SIMVP = dict(SMALL_SIMVP, spatial=2, patch=4, down=0)


def clip(n=2, t=4, c=1, side=16, seed=0):
    return torch.rand(n, t, c, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("cls, args", [(SimVP, SMALL_SIMVP), (SimVP, PATCH_SIMVP), (ConvLSTM, SMALL_LSTM)])
def test_predictors_map_context_to_the_future_frames(cls, args):
    torch.manual_seed(0)
    net = cls(**args)
    out = net(clip())
    assert out.shape == (2, 3, 1, 16, 16) and out.dtype == torch.float32
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    rebuilt = cls(**net.config)  # the self-description rebuilds the same network
    rebuilt.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(clip()), net.eval()(clip()))


@pytest.mark.parametrize("cls, args", [(SimVP, SMALL_SIMVP), (SimVP, PATCH_SIMVP), (ConvLSTM, SMALL_LSTM)])
def test_each_sequence_is_predicted_on_its_own(cls, args):
    torch.manual_seed(0)
    net = cls(**args).eval()
    x = clip(n=3)
    with torch.no_grad():
        together, alone = net(x), net(x[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)
    assert not torch.allclose(together[0], together[1], atol=1e-3)  # the inputs do matter


def test_simvp_patches_and_strides_set_the_translators_grid():
    """The translator sees an H / (patch x 2^down) grid; down defaults to every second encoder layer."""
    seen = {}

    def grid(**args):
        net = SimVP(**{**SMALL_SIMVP, **args})
        net.translator.register_forward_hook(lambda m, i, o: seen.update(side=i[0].shape[-1]))
        net(clip(side=32))
        return seen["side"], net.multiple

    assert grid() == (8, 4)  # spatial=4: strides 1, 2, 1, 2
    assert grid(patch=4, down=0) == (8, 4)
    assert grid(patch=2, down=1) == (8, 4)
    assert grid(down=1) == (16, 2)
    assert grid(patch=4, down=2) == (2, 16)
    with pytest.raises(ConfigError, match="down=3 is invalid with spatial=4"):
        SimVP(**SMALL_SIMVP, down=3)
    with pytest.raises(ConfigError, match="multiples of 16"):
        SimVP(**SMALL_SIMVP, patch=4, down=2)(clip(side=8))


@pytest.mark.parametrize("kernel, reach", [(21, 11), (13, 8), (9, 5)])
def test_large_kernel_attention_reaches_as_far_as_its_decomposition(kernel, reach):
    """TAU's K = 21 is depthwise 5x5 + 7x7 at dilation 3: an impulse spreads 2 + 3 x 3 = 11 px each way."""
    torch.manual_seed(0)
    lka = large_kernel(1, kernel)
    x = torch.zeros(1, 1, 41, 41)
    x[..., 20, 20] = 1
    with torch.no_grad():
        for conv in lka:
            conv.weight.fill_(1.0), conv.bias.zero_()
        hit = lka(x)[0, 0].nonzero()
    assert (hit - 20).abs().max().item() == reach
    assert [m.groups for m in lka] == [1, 1, 1]  # depthwise on one channel
    net = SimVP(**SMALL_SIMVP, kernel=kernel)
    assert net.config["kernel"] == kernel and net(clip()).shape == (2, 3, 1, 16, 16)


def test_simvp_projections_keep_every_translator_block_at_hidden_t():
    widths = {}

    def record(name):
        return lambda m, i, o: widths.setdefault(name, []).append(i[0].shape[1])

    for project in (False, True):
        net = SimVP(**SMALL_SIMVP, project=project)
        for block in net.translator:
            if hasattr(block, "attn"):
                block.attn.register_forward_hook(record(project))
        assert net(clip()).shape == (2, 3, 1, 16, 16) and net.config["project"] is project
    assert widths[True] == [16, 16] and widths[False] == [16, 3 * 8]  # the last SimVP block: frames_out x hidden_s


def test_simvp_with_equal_horizons_and_rgb_frames():
    net = SimVP(channels=3, frames_in=5, frames_out=5, hidden_s=8, hidden_t=16, spatial=2, temporal=1)
    assert net(clip(t=5, c=3, side=8)).shape == (2, 5, 3, 8, 8)


def test_convlstm_rolls_out_past_its_horizon_consistently():
    torch.manual_seed(0)
    net = ConvLSTM(**SMALL_LSTM).eval()
    x = clip()
    with torch.no_grad():
        short, long = net(x), net(x, 7)
    assert long.shape == (2, 7, 1, 16, 16)
    assert torch.allclose(long[:, :3], short, atol=1e-6)  # frame by frame: the first 3 are the same


def test_discriminator_scores_whole_sequences_with_spectral_norm():
    torch.manual_seed(0)
    d = SequenceDiscriminator(channels=1, frames=7, width=8, depth=3)
    x = clip(t=7)
    logits = d(x)
    assert logits.shape == (2, 1)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    shuffled = x[:, torch.randperm(7, generator=torch.Generator().manual_seed(1))]
    assert not torch.allclose(d(shuffled), logits)  # the order of the frames is seen


@pytest.mark.parametrize("net, x, message", [
    (SimVP(**SMALL_SIMVP), clip(t=3), r"expected \(N, 4, 1, H, W\)"),
    (SimVP(**SMALL_SIMVP), clip(c=3), r"expected \(N, 4, 1, H, W\)"),
    (SimVP(**SMALL_SIMVP), clip(side=14), "multiples of 4"),
    (ConvLSTM(**SMALL_LSTM), clip(side=10), "multiples of 4"),
    (ConvLSTM(**SMALL_LSTM), clip()[:, :, 0], r"expected \(N, 4, 1, H, W\)"),
    (SequenceDiscriminator(frames=7, width=4), clip(t=6), r"expected \(N, 7, 1, H, W\)"),
])
def test_bad_input_is_a_one_line_error(net, x, message):
    with pytest.raises(ConfigError, match=message) as err:
        net(x)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("cls, key, value", [(SimVP, "hidden_s", 7), (SimVP, "temporal", 0), (ConvLSTM, "kernel", 4),
                                             (ConvLSTM, "frames_in", 0), (SequenceDiscriminator, "frames", 1)])
def test_bad_arguments_are_config_errors(cls, key, value):
    with pytest.raises(ConfigError, match=key):
        cls(**{key: value})


def test_registry_names_every_network():
    assert set(VIDEO_NETS) == {"SimVP", "ConvLSTM", "SequenceDiscriminator"}
