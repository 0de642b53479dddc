"""Tests for tutorial_lib.registry: recipes and models, lazy provider modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from tutorial_lib import registry


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_RECIPES", {})
    monkeypatch.setattr(registry, "_MODELS", {})
    monkeypatch.setattr(registry, "_PROVIDERS", ())
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


def test_providers_are_imported_lazily(tmp_path, monkeypatch):
    (tmp_path / "fake_provider_mod.py").write_text(
        textwrap.dedent(
            """
            from tutorial_lib import registry

            def train(mode, out_dir, resume):
                return out_dir

            registry.register_recipe("from_provider", train, "Registered on import.")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_PROVIDERS", ("fake_provider_mod",))
    monkeypatch.delitem(sys.modules, "fake_provider_mod", raising=False)
    assert "fake_provider_mod" not in sys.modules
    assert registry.recipes() == {"from_provider": "Registered on import."}
    assert "fake_provider_mod" in sys.modules
    assert registry.models() == {}


def test_broken_provider_is_named(monkeypatch):
    monkeypatch.setattr(registry, "_PROVIDERS", ("tutorial_lib.no_such_module",))
    with pytest.raises(ImportError, match="no_such_module"):
        registry.recipes()


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
