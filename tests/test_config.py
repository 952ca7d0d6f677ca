import pytest

from gankit.config import Config, all_keys, config_from_dict, list_presets, load_config, parse_override
from gankit.errors import ConfigError

REQUIRED_PRESETS = {"digits-dcgan", "mnist-mlp", "mnist-dcgan", "ring-gan", "grid-gan"}


def test_default_is_digits_dcgan_preset():
    cfg = load_config()
    assert cfg.preset == "digits-dcgan"
    assert cfg.data.name == "digits" and cfg.model.arch == "dcgan"


def test_every_preset_resolves_and_has_a_description():
    presets = list_presets()
    assert REQUIRED_PRESETS <= set(presets)
    for name, desc in presets.items():
        assert desc, name
        assert load_config(preset=name).preset == name


def test_overrides_are_typed_from_yaml():
    cfg = load_config(overrides=["train.steps=12", "optim.g_lr=1e-3", "model.g.hidden=[4, 8]",
                                 "data.dir=some/dir", "train.tensorboard=false", "seed=3"])
    assert cfg.train.steps == 12 and cfg.optim.g_lr == 1e-3 and isinstance(cfg.optim.g_lr, float)
    assert cfg.model.g.hidden == [4, 8] and cfg.data.dir == "some/dir"
    assert cfg.train.tensorboard is False and cfg.seed == 3


def test_int_is_accepted_for_float_but_not_str_for_int():
    assert load_config(overrides=["optim.d_lr=1"]).optim.d_lr == 1.0
    with pytest.raises(ConfigError, match=r"train.steps must be int, got 'many'"):
        load_config(overrides=["train.steps=many"])


def test_unknown_key_names_the_closest():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.batchsize'; did you mean 'train.batch_size'"):
        load_config(overrides=["train.batchsize=32"])
    with pytest.raises(ConfigError, match=r"did you mean 'data.name'"):
        load_config(mapping={"data": {"nme": "digits"}})


def test_out_of_range_and_bad_choice():
    with pytest.raises(ConfigError, match=r"train.batch_size must be >= 1, got 0"):
        load_config(overrides=["train.batch_size=0"])
    with pytest.raises(ConfigError, match=r"loss.name must be one of"):
        load_config(overrides=["loss.name=wgan"])
    with pytest.raises(ConfigError, match=r"optim.g_betas must be two numbers"):
        load_config(overrides=["optim.g_betas=[0.5]"])


def test_override_without_equals_and_unknown_preset():
    with pytest.raises(ConfigError, match="not key=value"):
        parse_override("train.steps")
    with pytest.raises(ConfigError, match="did you mean 'mnist-mlp'"):
        load_config(preset="mnist-mlpp")


def test_yaml_words_like_off_stay_words_and_true_false_stay_booleans(tmp_path):
    """YAML 1.1 reads off/on/yes/no as booleans; config values use the 1.2 rule, so `train.amp=off` works."""
    assert parse_override("train.amp=off") == ("train.amp", "off")
    assert [parse_override(f"k={w}")[1] for w in ("on", "yes", "no", "true", "False")] == ["on", "yes", "no", True, False]
    assert load_config(overrides=["train.amp=off"]).train.amp == "off"
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  amp: off\n  tensorboard: false\n")
    cfg = load_config(file=str(path))
    assert cfg.train.amp == "off" and cfg.train.tensorboard is False
    words = load_config(overrides=["train.tensorboard=no", "train.compile=on"]).train  # boolean keys still take them
    assert words.tensorboard is False and words.compile is True


def test_config_file_overlays_preset(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: ring-gan\ntrain:\n  steps: 7\n")
    cfg = load_config(file=str(path))
    assert cfg.data.name == "ring" and cfg.train.steps == 7
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(file=str(path))


def test_resolved_config_round_trips():
    cfg = load_config(preset="grid-gan", overrides=["train.steps=5"])
    again = config_from_dict(cfg.to_dict())
    assert again == cfg
    assert isinstance(again, Config)
    assert "model.d.spectral_norm" in all_keys()
