"""Tests for tutorial_lib.registry: recipes and models, lazy provider modules."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tutorial_lib import families, registry


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_RECIPES", {})
    monkeypatch.setattr(registry, "_MODELS", {})
    monkeypatch.setattr(registry, "_FAMILY_PACKAGES", ())
    monkeypatch.setattr(registry, "_loaded", set())


def recipe_a(mode, out_dir, resume):
    path = out_dir / f"{mode}.safetensors"
    path.write_bytes(b"x")
    return path


def recipe_b(mode, out_dir, resume):
    return out_dir / "never_written.safetensors"


def sample_ok(n, steps, sampler, seed):
    return torch.zeros(n, 1, 100), 16000


def test_register_and_list_sorted():
    assert registry.register_recipe("b_recipe", recipe_b, "Second\n  one.") is recipe_b
    registry.register_recipe("a_recipe", recipe_a, "First one.")
    registry.register_model("m", sample_ok, "A model.")
    assert registry.recipes() == {"a_recipe": "First one.", "b_recipe": "Second one."}
    assert list(registry.recipes()) == ["a_recipe", "b_recipe"]
    assert registry.models() == {"m": "A model."}
    assert registry.get_recipe("a_recipe") is recipe_a
    assert registry.get_model("m") is sample_ok


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="no recipes are registered"):
        registry.get_recipe("x")
    registry.register_recipe("waveform_unet", recipe_a, "W.")
    registry.register_recipe("latent_flow", recipe_b, "L.")
    with pytest.raises(
        ValueError, match="'latent_flow', 'waveform_unet'.*Did you mean 'waveform_unet'"
    ):
        registry.get_recipe("waveform_unte")
    with pytest.raises(ValueError, match="no models"):
        registry.get_model("waveform_unet")


def test_duplicates_and_bad_registrations():
    registry.register_recipe("r", recipe_a, "A.")
    registry.register_recipe("r", recipe_a, "A again.")  # same function: fine (re-import)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_recipe("r", recipe_b, "B.")
    registry.register_recipe("r", recipe_b, "B.", replace=True)
    assert registry.get_recipe("r") is recipe_b
    with pytest.raises(ValueError, match="name"):
        registry.register_recipe("Bad Name", recipe_a, "A.")
    with pytest.raises(TypeError, match="fn"):
        registry.register_recipe("ok", "not callable", "A.")
    with pytest.raises(ValueError, match="description"):
        registry.register_model("ok", sample_ok, "  ")


_FAMILY = """
SR, LENGTH, CLASSES, CONFIG = 8000, 100, None, {}
SAMPLING = {"steps": 1, "sampler": "euler"}
RECIPE, DESCRIPTION = "fake-family", "A family found by listing its package."
CHECKPOINTS = ("fake-a",)
MODELS = {"fake-a": "Silence.", "fake-b": "Silence too."}


def train_settings(mode):
    return {"steps": 1, "batch": 2, "lr": 1e-3, "seed": 0, "n_train": 4, "ema_decay": 0.9,
            "warmup_steps": 0}
def dataset(n, split="train"): return None
def build(config=None): return None
def train(mode, out_dir, resume=False, *, device=None):
    path = out_dir / "fake-a.safetensors"
    path.write_bytes(b"x")
    return path
def train_model(model, name="fake-a", mode=None, *, device=None): return model
def load(name="fake-a"): return None
def sample(n, steps=None, sampler=None, seed=0, *, name="fake-a", device=None):
    import torch
    return torch.zeros(n, 1, LENGTH) + (0.5 if name == "fake-b" else 0.0), SR
def evaluate(models, *, n=4, steps=None, seed=0, device=None): return {}
"""


def _family_package(tmp_path, monkeypatch, files):
    pkg = tmp_path / "fake_families"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in [m for m in sys.modules if m.startswith("fake_families")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(registry, "_FAMILY_PACKAGES", ("fake_families",))


def test_families_are_found_by_listing_their_package(tmp_path, monkeypatch):
    """A new family module is registered without touching any list (the CLI finds it too)."""
    _family_package(tmp_path, monkeypatch, {"fake": _FAMILY, "_helper": "raise RuntimeError"})
    assert "fake_families.fake" not in sys.modules
    assert registry.recipes() == {"fake-family": "A family found by listing its package."}
    assert "fake_families.fake" in sys.modules and "fake_families._helper" not in sys.modules
    assert list(registry.models()) == ["fake-a", "fake-b"]
    audio, sr = registry.sample("fake-b", 2)
    assert sr == 8000 and float(audio.mean()) == 0.5  # the name reaches the family's sample
    assert registry.run_recipe("fake-family", "fast", tmp_path / "out").name == "fake-a.safetensors"


def test_a_family_without_the_shape_is_named(tmp_path, monkeypatch):
    broken = _FAMILY.replace("def evaluate(models, *, n=4, steps=None, seed=0, device=None): "
                             "return {}", "")  # fmt: skip
    assert broken != _FAMILY
    _family_package(tmp_path, monkeypatch, {"broken": broken})
    with pytest.raises(ImportError, match=r"(?s)fake_families\.broken.*function evaluate"):
        registry.recipes()


def _checked(tmp_path, monkeypatch, text):
    """check_family of a fake family module with the source ``text``."""
    import importlib

    _family_package(tmp_path, monkeypatch, {"drifted": text})
    return families.check_family(importlib.import_module("fake_families.drifted"))


def test_the_fake_family_has_the_whole_shape(tmp_path, monkeypatch):
    assert _checked(tmp_path, monkeypatch, _FAMILY).RECIPE == "fake-family"


# Today's drift (issue 28), planted one at a time in the fake family: each is refused with a
# message that names the family, the function and the fix.
DRIFT = {
    "a positional extra": (
        ('def dataset(n, split="train"):', 'def dataset(n, split="train", seconds=None):'),
        r"drifted .*dataset\(n, split='train', seconds=None\) has the positional parameters "
        r"\(n, split, seconds\)\. Fix: put seconds after `\*`",
    ),
    "parameters out of order": (
        (
            "def sample(n, steps=None, sampler=None, seed=0,",
            "def sample(n, sampler=None, steps=None, seed=0,",
        ),
        r"sample\(.*\) has the positional parameters \(n, sampler, steps, seed\)\. Fix: take "
        r"the positional parameters \(n, steps, sampler, seed\) in this order",
    ),
    "load without the default name": (
        ('def load(name="fake-a"):', "def load(name):"),
        r"load\(name\): name has the default none\. Fix: give it the default 'fake-a' \(the "
        r"main checkpoint\)",
    ),
    "train_model with another default": (
        ('def train_model(model, name="fake-a",', 'def train_model(model, name="fake-b",'),
        r"train_model\(.*\): name has the default 'fake-b'\. Fix: give it the default 'fake-a'",
    ),
    "a default of another value": (
        ("def train(mode, out_dir, resume=False,", "def train(mode, out_dir, resume=None,"),
        r"train\(.*\): resume has the default None\. Fix: give it the default False",
    ),
    "no device": (
        (
            'def train_model(model, name="fake-a", mode=None, *, device=None):',
            'def train_model(model, name="fake-a", mode=None):',
        ),
        r"train_model\(.*\) lacks the keyword-only device\. Fix: add it after `\*`",
    ),
    "evaluate with two clip counts": (
        ("def evaluate(models, *, n=4,", "def evaluate(models, *, n=4, n_per_class=2,"),
        r"evaluate\(.*\) counts its clips with \['n', 'n_per_class'\]\. Fix: one keyword-only",
    ),
    "evaluate with a positional count": (
        ("def evaluate(models, *, n=4,", "def evaluate(models, n=4, *,"),
        r"evaluate\(.*\) has the positional parameters \(models, n\)\. Fix: put n after",
    ),
    "**kwargs": (
        ("def build(config=None):", "def build(config=None, **kwargs):"),
        r"build\(config=None, \*\*kwargs\) takes \*args or \*\*kwargs\. Fix: name every",
    ),
    "train_settings with other keys": (
        ('{"steps": 1, "batch": 2,', '{"max_steps": 1, "batch_size": 2,'),
        r"train_settings\('fast'\) has steps \(int\): 'missing'; batch \(int\): 'missing'\. "
        r"Fix: return every key",
    ),
    "train_settings with a wrong type": (
        ('"lr": 1e-3,', '"lr": "1e-3",'),
        r"train_settings\('fast'\) has lr \(float\): '1e-3'",
    ),
    "a sampler per objective": (
        ('"sampler": "euler"}', '"sampler": {"rf": "euler"}}'),
        r"SAMPLING\['sampler'\] is \{'rf': 'euler'\}\. Fix: a str",
    ),
    "no sampler": (
        ('SAMPLING = {"steps": 1, "sampler": "euler"}', 'SAMPLING = {"steps": 1}'),
        r"SAMPLING\['sampler'\] is missing\. Fix: a str",
    ),
    "SAMPLING not a dict": (
        ('SAMPLING = {"steps": 1, "sampler": "euler"}', "SAMPLING = (1, 'euler')"),
        r"SAMPLING is a tuple\. Fix: a dict",
    ),
}


@pytest.mark.parametrize("drift", list(DRIFT))
def test_check_family_refuses_drift(tmp_path, monkeypatch, drift):
    (old, new), message = DRIFT[drift]
    assert _FAMILY.count(old) == 1, old
    with pytest.raises(TypeError, match="(?s)" + message) as err:
        _checked(tmp_path, monkeypatch, _FAMILY.replace(old, new))
    assert "family fake_families.drifted" in str(err.value)
    assert "docs/FAMILIES.md" in str(err.value)


def test_check_family_reports_every_drift_at_once_in_a_fixed_order(tmp_path, monkeypatch):
    """Drifts of every kind planted together (a missing constant, two signatures, SAMPLING and
    train_settings) come back in one TypeError, not one per run of the check: constants, then
    the functions in the contract's order, then the values. A family without CHECKPOINTS is
    reported, not an AttributeError of the checker."""
    text = _FAMILY
    for name in ("a positional extra", "no device", "a sampler per objective",
                 "train_settings with other keys"):  # fmt: skip
        (old, new), _ = DRIFT[name]
        text = text.replace(old, new)
    text = text.replace('CHECKPOINTS = ("fake-a",)', "")
    with pytest.raises(TypeError) as err:
        _checked(tmp_path, monkeypatch, text)
    message = str(err.value)
    expected = [
        "the constant CHECKPOINTS is missing",
        "dataset(n, split='train', seconds=None) has the positional parameters",
        "lacks the keyword-only device",
        "SAMPLING['sampler'] is {'rf': 'euler'}",
        "train_settings('fast') has steps (int): 'missing'",
    ]
    at = [message.find(part) for part in expected]
    assert -1 not in at, [e for e, i in zip(expected, at, strict=True) if i == -1]
    assert at == sorted(at), "the problems come in the fixed order"
    assert message.count("train_settings(") == 1  # the same drift in three modes, said once


def test_a_family_that_fails_to_import_is_named(tmp_path, monkeypatch):
    _family_package(tmp_path, monkeypatch, {"bad": "import no_such_module_here"})
    with pytest.raises(ImportError, match=r"fake_families\.bad.*no_such_module_here"):
        registry.recipes()


def test_the_books_families_have_the_shape():
    """Each family's reference checkpoints are shipped and registered under its names."""
    from tutorial_lib import checkpoints, families

    assert families.names() == [
        "drums_mel",
        "drums_small",
        "drums_unet",
        "guitar_latent",
        "midi_synth",
    ]
    shipped = checkpoints.references()
    for name in families.names():
        module = families.get(name)
        for ckpt in module.CHECKPOINTS:
            assert ckpt in module.MODELS and shipped[ckpt].recipe == module.RECIPE, ckpt


def test_import_does_no_work():
    code = (
        "import sys, tutorial_lib, tutorial_lib.registry, tutorial_lib.checkpoints, "
        "tutorial_lib.training; print('torch' in sys.modules, 'safetensors' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_run_recipe(tmp_path):
    registry.register_recipe("a", recipe_a, "A.")
    registry.register_recipe("b", recipe_b, "B.")
    assert (
        registry.run_recipe("a", "fast", tmp_path / "out") == tmp_path / "out" / "fast.safetensors"
    )
    with pytest.raises(RuntimeError, match="must return the path"):
        registry.run_recipe("b", "fast", tmp_path)
    with pytest.raises(ValueError, match="mode"):
        registry.run_recipe("a", "quick", tmp_path)


def test_sample_checks_the_model_output():
    registry.register_model("ok", sample_ok, "OK.")
    registry.register_model(
        "wrong_n", lambda n, steps, sampler, seed: (torch.zeros(1, 1, 10), 16000), "W."
    )
    registry.register_model("no_sr", lambda n, steps, sampler, seed: torch.zeros(n, 1, 10), "N.")
    audio, sr = registry.sample("ok", 3, steps=10, seed=1)
    assert audio.shape == (3, 1, 100) and sr == 16000
    with pytest.raises(RuntimeError, match="1 clips, 2 asked"):
        registry.sample("wrong_n", 2)
    with pytest.raises(RuntimeError, match=r"\(audio, sr\)"):
        registry.sample("no_sr", 2)
    with pytest.raises(ValueError, match="n"):
        registry.sample("ok", 0)


def test_device_reaches_a_family_that_takes_one_and_not_one_that_does_not(tmp_path, monkeypatch):
    """registry.sample/run_recipe pass device= only to functions that take it; a model
    registered without one (families must take it: check_family) still runs on the CPU, and
    asking it for a GPU names the problem."""
    _family_package(tmp_path, monkeypatch, {"fake": _FAMILY})
    audio, _ = registry.sample("fake-b", 2, device="cpu")
    assert float(audio.mean()) == 0.5
    registry.register_model("plain", sample_ok, "Written without a device.")
    assert registry.sample("plain", 2, device="cpu")[0].shape == (2, 1, 100)
    with pytest.raises(ValueError, match="device: .*without a device argument"):
        registry.sample("plain", 2, device="cuda")


def test_score_row_carries_fds_interval():
    """Every family's FD row has the bootstrap interval the metrics appendix teaches, around it."""
    import numpy as np

    from tutorial_lib.families import _common

    rng = np.random.default_rng(0)
    real, val = rng.standard_normal((60, 8)), rng.standard_normal((60, 8))
    fake = rng.standard_normal((60, 8)) + 0.5
    row = _common.score_row(real, fake, val, seed=0)
    assert row["fd_low"] <= row["fd"] <= row["fd_high"] and row["fd_low"] < row["fd_high"]
    assert row["fd_ratio"] == row["fd"] / row["fd_floor"]
