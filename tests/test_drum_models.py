"""Tests for tutorial_lib.drum_models: the recipe's registration, config, sizes and sampling."""

from __future__ import annotations

import pytest
import torch

from tutorial_lib import checkpoints as ck
from tutorial_lib import drum_models as dm
from tutorial_lib import registry


def test_registered():
    assert "drums-unet" in registry._RECIPES
    for name in ("drums-unet", "drums-unet-short", "drums-unet-kick", "drums-unet-snare",
                 "drums-unet-hat", "drums-unet-percussion"):  # fmt: skip
        assert name in registry._MODELS, name


def test_config_builds_small_model():
    m = dm.build()
    assert m.config == dm.CONFIG
    assert m.multiple <= dm.LENGTH and dm.LENGTH % m.multiple == 0
    n = m.num_parameters()
    assert 2 * n < 4 * 2**20  # float16 reference checkpoint under 4 MiB
    assert m.classes == list(dm.CLASSES)


def test_train_settings():
    book, fast = dm.train_settings("book"), dm.train_settings("fast")
    assert book["short_steps"] * 10 == book["steps"]
    assert fast["steps"] < book["steps"]
    with pytest.raises(ValueError, match="mode"):
        dm.train_settings("huge")


def _have_reference(name):
    try:
        return ck.reference(name).path.is_file()
    except ValueError:
        return False


@pytest.mark.skipif(not _have_reference("drums-unet"), reason="reference checkpoint not shipped")
def test_reference_loads_and_samples():
    ref = ck.reference("drums-unet")
    assert ref.config == dm.CONFIG
    for key in ("fd", "fd_short", "fd_untrained", "class_accuracy"):
        assert key in ref.metric
    x, sr = dm.sample(2, steps=2, seed=0, classes=["kick", "snare"])
    assert x.shape == (2, 1, dm.LENGTH) and sr == dm.SR
    assert torch.isfinite(x).all() and x.abs().max() <= 1
    with pytest.raises(ValueError, match="classes"):
        dm.sample(1, steps=1, classes="cowbell")
    with pytest.raises(ValueError, match="unknown class"):
        dm.sample(1, steps=1, classes=["cowbell"])
    a, _ = registry.sample("drums-unet-kick", 1, steps=2, seed=1)
    b, _ = dm.sample(1, steps=2, seed=1, classes="kick")
    assert torch.equal(a, b)
