"""Run modes, seeding, device choice and setup (tutorial_lib.config), and import hygiene."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import tutorial_lib as tl


@pytest.fixture(autouse=True)
def _clean_mode(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE", raising=False)
    tl.set_mode(None)
    yield
    tl.set_mode(None)


def test_default_mode_is_book():
    assert tl.mode() == "book"


@pytest.mark.parametrize("value", ["fast", "book", "full", " FAST "])
def test_mode_from_environment(monkeypatch, value):
    monkeypatch.setenv("TUTORIAL_MODE", value)
    assert tl.mode() == value.strip().lower()


def test_unknown_mode_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODE", "fsat")
    with pytest.raises(ValueError, match=r"\$TUTORIAL_MODE.*'fsat'.*Did you mean 'fast'"):
        tl.mode()


def test_steps_picks_by_mode(monkeypatch):
    for mode, expected in [("fast", 1), ("book", 2), ("full", 3)]:
        monkeypatch.setenv("TUTORIAL_MODE", mode)
        assert tl.steps(fast=1, book=2, full=3) == expected
    monkeypatch.setenv("TUTORIAL_MODE", "full")
    assert tl.steps(fast=1, book=2) == 2  # full defaults to book


def test_set_mode_and_use_mode_override_the_environment(monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODE", "book")
    with tl.use_mode("fast"):
        assert tl.mode() == "fast"
        assert tl.steps(fast="small", book="big") == "small"
    assert tl.mode() == "book"
    tl.set_mode("full")
    assert tl.mode() == "full"
    with pytest.raises(ValueError, match="value: unknown value 'huge'"):
        tl.set_mode("huge")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(()).item()  # noqa: NPY002

    tl.seed_everything(123)
    first = draw()
    tl.seed_everything(123)
    assert draw() == first
    tl.seed_everything(124)
    assert draw() != first
    with pytest.raises(ValueError, match="seed"):
        tl.seed_everything(-1)
    with pytest.raises(TypeError, match="seed"):
        tl.seed_everything(1.5)


def test_pick_device_on_this_machine(capsys):
    dev = tl.pick_device()
    assert dev.type in {"cpu", "cuda", "mps"}
    if dev.type == "cpu":
        assert "No GPU found" in capsys.readouterr().out
    assert tl.pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="prefer: unknown value 'tpu'"):
        tl.pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pick_device_refuses_missing_gpu():
    with pytest.raises(ValueError, match="prefer: device 'cuda' is not available"):
        tl.pick_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cpu_fallback_warns_loudly_in_full_mode(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    tl.set_mode("full")
    with pytest.warns(RuntimeWarning, match="'full' mode .* expects a GPU"):
        tl.pick_device()


def test_setup_seeds_and_reports(capsys, monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODE", "fast")
    dev = tl.setup(seed=7)
    out = capsys.readouterr().out
    assert "Mode: fast" in out and "seed: 7" in out
    assert isinstance(dev, torch.device)
    a = torch.rand(3)
    tl.setup(seed=7, verbose=False)
    assert torch.equal(a, torch.rand(3))


def test_setup_rejects_bad_mode_before_any_work(monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODE", "gpu")
    with pytest.raises(ValueError, match="TUTORIAL_MODE"):
        tl.setup()


def test_import_does_no_work():
    """``import tutorial_lib`` loads no heavy module and changes no plot style."""
    code = (
        "import sys, tutorial_lib as tl\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'librosa', 'IPython') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'audio' in dir(tl)\n"
        "tl.audio\n"
        "assert 'tutorial_lib.audio' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tl.nope  # noqa: B018


def test_set_threads_caps_torch_threads():
    before = torch.get_num_threads()
    try:
        assert tl.set_threads(1) == 1
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="threads: expected an integer >= 1"):
            tl.set_threads(0)
    finally:
        torch.set_num_threads(before)
