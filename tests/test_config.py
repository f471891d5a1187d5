import json

import pytest

from spikevision.runs import config


def test_every_preset_resolves_and_round_trips_through_json():
    names = config.available_presets()
    assert {"seed", "quick"} <= set(names)
    for name in names:
        cfg = config.resolve(name)
        again = config.RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg


def test_seed_preset_is_the_handout_recipe():
    cfg = config.resolve("seed")
    assert cfg.model.kind == "mlp" and tuple(cfg.model.hidden) == (512,)
    assert cfg.model.beta == 0.95 and cfg.model.reset == "subtract" and cfg.model.threshold == 1.0
    t = cfg.train
    assert (t.num_steps, t.batch_size, t.epochs, t.lr, t.betas) == (200, 512, 3, 5e-4, (0.9, 0.999))
    assert (t.encoding, t.loss, t.optimizer, t.drop_last) == ("direct", "membrane_ce", "adam", True)


def test_overrides_parse_toml_values_and_find_the_section():
    cfg = config.resolve("seed", ["train.lr=1e-3", "beta=0.9", "model.hidden=[100, 50]", "encoding=\"rate\""],
                         epochs=1)
    assert cfg.train.lr == 1e-3 and cfg.model.beta == 0.9 and tuple(cfg.model.hidden) == (100, 50)
    assert cfg.train.encoding == "rate" and cfg.train.epochs == 1
    assert config.resolve("seed", ["encoding=latency"]).train.encoding == "latency"  # bare word -> string


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("nonsense", [], r"unknown preset 'nonsense'; valid presets: .*seed"),
        ("seed", ["train.lrr=1"], r"unknown key 'train.lrr'; valid train keys: .*lr"),
        ("seed", ["colour=red"], r"unknown key 'colour'; valid: .*train.lr"),
        ("seed", ["lr"], r"--set takes key=value"),
        ("seed", ["train.loss=hinge"], r"train.loss must be one of membrane_ce, mean_membrane_ce, count_ce, rate_mse"),
        ("seed", ["train.epochs=0"], r"train.epochs must be a whole number >= 1"),
        ("seed", ["train.encoding=morse"], r"train.encoding must be one of direct, rate, latency"),
    ],
)
def test_bad_config_names_the_valid_choices(preset, overrides, message):
    with pytest.raises(ValueError, match=message):
        config.resolve(preset, overrides)


def test_preset_from_a_toml_path_and_invalid_toml(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('[model]\nhidden = [64]\n[train]\nnum_steps = 5\n')
    cfg = config.resolve(str(good))
    assert cfg.preset == "mine" and tuple(cfg.model.hidden) == (64,) and cfg.train.num_steps == 5
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        config.resolve(str(bad))
    extra = tmp_path / "extra.toml"
    extra.write_text("[optimiser]\nlr = 1\n")
    with pytest.raises(ValueError, match="unknown config section"):
        config.resolve(str(extra))
