"""Tests for tutorial_lib.registry: recipes and models, lazy provider modules."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tutorial_lib import registry


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
SR, LENGTH, CLASSES, CONFIG, SAMPLING = 8000, 100, None, {}, {"steps": 1}
RECIPE, DESCRIPTION = "fake-family", "A family found by listing its package."
CHECKPOINTS = ("fake-a",)
MODELS = {"fake-a": "Silence.", "fake-b": "Silence too."}


def train_settings(mode): return {}
def dataset(n, split="train"): return None
def build(config=None): return None
def train(mode, out_dir, resume=False):
    path = out_dir / "fake-a.safetensors"
    path.write_bytes(b"x")
    return path
def train_model(model, name, mode=None): return model
def load(name): return None
def sample(n, steps=None, sampler=None, seed=0, *, name="fake-a"):
    import torch
    return torch.zeros(n, 1, LENGTH) + (0.5 if name == "fake-b" else 0.0), SR
def evaluate(models, *, steps=None, seed=0): return {}
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
    broken = _FAMILY.replace("def evaluate(models, *, steps=None, seed=0): return {}", "")
    _family_package(tmp_path, monkeypatch, {"broken": broken})
    with pytest.raises(ImportError, match=r"fake_families\.broken.*function evaluate"):
        registry.recipes()


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
    """registry.sample/run_recipe pass device= only to functions that take it; a family
    written without one still runs on the CPU, and asking it for a GPU names the problem."""
    _family_package(tmp_path, monkeypatch, {"fake": _FAMILY})
    audio, _ = registry.sample("fake-b", 2, device="cpu")
    assert float(audio.mean()) == 0.5
    with pytest.raises(ValueError, match="device: .*without a device argument"):
        registry.sample("fake-b", 2, device="cuda")
