"""Tests for tutorial_lib.families.drums_small: chapter 2's family (SmallConv1d on drum hits,
DDPM and rectified flow): settings, data, registration, sampling, recipe and evaluation."""

from __future__ import annotations

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import checkpoints as ck
from tutorial_lib.families import drums_small as ds


def test_constants_and_build():
    net = ds.build()
    assert isinstance(net, tl.models.SmallConv1d) and net.config == ds.CONFIG
    assert ds.LENGTH % net.hop == 0
    assert 2 * sum(p.numel() for p in net.parameters()) < 2_000_000  # float16 under 2 MB
    assert [ds.objective_of(n) for n in ds.CHECKPOINTS] == [*ds.OBJECTIVES, "ddpm"]
    assert ds.CHECKPOINTS[-1] == ds.MEMORISED
    assert ds.alpha_bars().shape == (1000,)
    with pytest.raises(ValueError, match="unknown value 'drums-small-x'"):
        ds.objective_of("drums-small-x")


def test_settings_by_mode():
    fast, full = ds.train_settings("fast"), ds.train_settings("full")
    assert fast["steps"] < full["steps"] and full["n_train"] == ds.N_TRAIN
    memo = ds.train_settings("book", name=ds.MEMORISED)
    assert memo["n_train"] == ds.N_MEMORISED and memo["steps"] == ds.MEMORISED_STEPS
    assert {k: v for k, v in memo.items() if k not in ("n_train", "steps", "warmup_steps")} == {
        k: v for k, v in full.items() if k not in ("n_train", "steps", "warmup_steps")
    }
    with pytest.raises(ValueError, match="unknown value 'drums-small-x'"):
        ds.train_settings("book", name="drums-small-x")
    with pytest.raises(ValueError, match="unknown value 'slow'"):
        ds.train_settings("slow")


def test_dataset_is_the_drum_data_at_the_familys_sizes():
    d = ds.dataset(4, "test")
    want = tl.data.drums(4, split="test", sr=ds.SR, length=ds.LENGTH, progress=False)
    assert torch.equal(d.tensors(), want.tensors())
    assert d.tensors().shape == (4, 1, ds.LENGTH)
    with pytest.raises(ValueError, match="n"):
        ds.dataset(0)


def test_registered_by_discovery():
    assert tl.registry.recipes()["drums-small"] == " ".join(ds.DESCRIPTION.split())
    for name in ds.MODELS:
        assert name in tl.registry.models(), name


def test_registered_sampler_of_the_reference_models():
    audio, sr = tl.registry.sample("drums-small-rf", n=2, steps=2, seed=1)
    assert audio.shape == (2, 1, ds.LENGTH) and sr == ds.SR
    assert audio.abs().max() <= 1
    again, _ = ds.sample(2, 2, None, 1, name="drums-small-rf")
    assert torch.equal(audio, again)
    with pytest.raises(ValueError, match="samples ddpm models"):
        ds.sample(1, 2, "ddim", name="drums-small-rf")
    d, _ = ds.sample(1, 2, seed=0, name="drums-small-ddpm")
    assert d.shape == (1, 1, ds.LENGTH)


def test_recipe_writes_both_checkpoints_reproducibly(tmp_path):
    """Both objectives, the initial weights from the recipe's seed (not the caller's state),
    and train_model(name) gives the same weights without writing files."""
    paths = []
    for sub, outer_seed in (("a", 1), ("b", 2)):
        torch.manual_seed(outer_seed)
        paths.append(ds.train("fast", tmp_path / sub))
    assert paths[0] == tmp_path / "a" / "drums-small-ddpm.safetensors"
    for name in ds.CHECKPOINTS:
        a, _, meta = ck.load(tmp_path / "a" / f"{name}.safetensors")
        b, _, _ = ck.load(tmp_path / "b" / f"{name}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), name
        assert meta["objective"] == ds.objective_of(name)
        assert meta["n_train"] == ds.train_settings("fast", name=name)["n_train"]
        m = ds.train_model(ds.build(), name, "fast").state_dict()
        assert all(torch.equal(m[k].half(), a[k]) for k in a), name


def test_evaluate_scores_and_checks():
    ref = ds.load("drums-small-rf")
    out = ds.evaluate({"reference": ref}, objective="rf", n=4, steps=2)
    r = out["reference"]
    assert r["audio"].shape == (4, 1, ds.LENGTH)
    assert r["fd"] > 0 and r["fd_floor"] > 0
    with pytest.raises(ValueError, match="objective"):
        ds.evaluate({"reference": ref}, objective="vp", n=4)


def test_the_memorising_model_copies_its_training_clips():
    """The shipped drums-small-memorised copies its 4 clips (waveform space), the reference
    copies none of them; chapter 7 shows both."""
    few = ds.dataset(ds.N_MEMORISED).tensors()
    real = ds.dataset(8, "test").tensors()
    memo, _ = ds.sample(8, seed=0, name=ds.MEMORISED)
    ref, _ = ds.sample(8, seed=0, name="drums-small-ddpm")
    caught = tl.metrics.memorisation_check(memo, few, real=real, sr=ds.SR, space="waveform")
    honest = tl.metrics.memorisation_check(ref, few, real=real, sr=ds.SR, space="waveform")
    assert caught.fraction_suspect >= 0.25 and caught.fake_distances.min() < 0.1
    assert honest.fraction_suspect == 0 and honest.fake_distances.min() > 0.5
