"""The shared input checks: each names the argument, what was expected and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tutorial_lib import _validate as v


@pytest.mark.parametrize("make", [np.zeros, torch.zeros])
def test_good_audio_passes(make):
    """Good audio passes (the check returns None), and the same arrays in the wrong role
    fail: the check looks at the shapes, it does not accept everything."""
    assert v.check_audio(make(16000), "x") is None
    assert v.check_audio(make((2, 16000)), "x") is None
    assert v.check_audio(make((4, 1, 100)), "x", batch=True) is None
    with pytest.raises(ValueError, match="expected audio of shape"):
        v.check_audio(make((4, 1, 100)), "x")  # a batch where one clip is expected
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        v.check_audio(make(16000), "x", batch=True)  # one clip where a batch is expected


@pytest.mark.parametrize(
    "x, kwargs, error, pattern",
    [
        ([0.0, 0.1], {}, TypeError, r"x: expected a numpy array or torch tensor"),
        (np.zeros((2, 100)), {"mono": True}, ValueError, r"x: expected mono.*to_mono"),
        (np.zeros((1, 100)), {"mono": False}, ValueError, r"x: expected stereo"),
        (np.zeros((100, 2)), {}, ValueError, r"looks like \(T, C\).*x\.T"),
        (np.zeros(0), {}, ValueError, r"too short: 0 samples"),
        (np.zeros(10), {"min_samples": 64}, ValueError, r"need at least 64"),
        (np.zeros((2, 1, 10)), {}, ValueError, r"expected audio of shape \(T,\) or \(C, T\)"),
        (np.zeros(10), {"batch": True}, ValueError, r"\(B, C, T\).*reshape"),
        (np.full(10, np.nan), {}, ValueError, r"x: holds 10 NaN and 0 Inf"),
        (torch.tensor([0.0, float("inf")]), {}, ValueError, r"0 NaN and 1 Inf"),
        (np.zeros(10, dtype=complex), {}, TypeError, r"expected real audio"),
    ],
)
def test_bad_audio_is_named_and_explained(x, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        v.check_audio(x, "x", **kwargs)


def test_sample_rate_checks():
    assert v.check_sample_rate(16000.0) == 16000
    with pytest.raises(ValueError, match="sr: the sample rate is missing"):
        v.check_sample_rate(None)
    with pytest.raises(ValueError, match="not a plausible audio sample rate"):
        v.check_sample_rate(16)
    with pytest.raises(ValueError, match="positive whole number"):
        v.check_sample_rate(16000.5)
    with pytest.raises(ValueError, match=r"expected 16000 Hz, got 44100 Hz.*resample"):
        v.check_sample_rate(44100, expected=16000)
    with pytest.raises(TypeError, match="sr: expected a sample rate"):
        v.check_sample_rate("16k")


def test_number_int_choice_checks():
    assert v.check_int(3, "n", min_value=1) == 3
    with pytest.raises(ValueError, match=r"n: expected an integer >= 1, got 0"):
        v.check_int(0, "n", min_value=1)
    with pytest.raises(TypeError, match="n: expected an integer"):
        v.check_int(True, "n")
    assert v.check_number(0.5, "beta", low=0, high=1, low_open=True, high_open=True) == 0.5
    with pytest.raises(ValueError, match=r"beta: expected a value in \(0, 1\), got 1"):
        v.check_number(1.0, "beta", low=0, high=1, low_open=True, high_open=True)
    with pytest.raises(ValueError, match="finite"):
        v.check_number(float("nan"), "beta")
    with pytest.raises(ValueError, match=r"kind: unknown value 'mell'.*Did you mean 'mel'"):
        v.check_choice("mell", "kind", ["mel", "linear"])


def test_check_subset():
    assert v.check_subset(None, "classes", ["kick", "snare"]) == ("kick", "snare")
    assert v.check_subset(["snare"], "classes", ["kick", "snare"]) == ("snare",)
    with pytest.raises(ValueError, match=r"classes: expected a non-empty list.*classes=\['kick'\]"):
        v.check_subset([], "classes", ["kick", "snare"])
    with pytest.raises(ValueError, match="non-empty list"):
        v.check_subset("kick", "classes", ["kick", "snare"])
    with pytest.raises(ValueError, match="Did you mean 'snare'"):
        v.check_subset(["snair"], "classes", ["kick", "snare"])


def test_check_batch():
    check_batch = v.check_batch
    check_batch(torch.zeros(2, 1, 8), "x")
    with pytest.raises(TypeError, match=r"x: expected a torch tensor.*Fix: torch.as_tensor"):
        check_batch(np.zeros((2, 8)), "x")
    with pytest.raises(TypeError, match=r"z: expected noise.*Fix: z = randn"):
        check_batch([0.0], "z", what="noise", fix="z = randn")
    with pytest.raises(TypeError, match=r"Fix: x.float\(\)"):
        check_batch(torch.zeros(2, 8, dtype=torch.int64), "x")
    with pytest.raises(ValueError, match=r"batch axis first.*x\[None\]"):
        check_batch(torch.zeros(8), "x")
    bad = torch.tensor([[0.0, float("nan")]])
    check_batch(bad, "x")  # finiteness is only checked on request
    with pytest.raises(ValueError, match="x: holds 1 NaN"):
        check_batch(bad, "x", finite=True)


def test_is_tensor_and_to_numpy_keep_dtypes_and_values():
    assert v.is_tensor(torch.zeros(2)) and v.is_tensor(torch.nn.Parameter(torch.zeros(2)))
    for other in (np.zeros(2), [0.0], torch.Size([2, 3]), torch.device("cpu"), None):
        assert not v.is_tensor(other), other
    for dtype in (torch.float16, torch.float32, torch.float64, torch.int64, torch.bool):
        x = (torch.arange(6).reshape(2, 3) % 2).to(dtype)
        out = v.to_numpy(x)
        assert out.dtype == np.dtype(str(dtype).removeprefix("torch.")) and out.shape == (2, 3)
        assert np.array_equal(out, x.numpy())
    grad = torch.ones(3, requires_grad=True) * 2  # needs detaching
    assert np.array_equal(v.to_numpy(grad), [2.0, 2.0, 2.0])
    assert np.array_equal(v.to_numpy(torch.tensor([1 + 2j]).conj()), [1 - 2j])
    arr = np.arange(4, dtype=np.int16)
    assert v.to_numpy(arr) is arr and v.to_numpy([1, 2]).dtype == np.asarray([1, 2]).dtype
    assert v.to_numpy(torch.ones(2, dtype=torch.bfloat16), np.float32).dtype == np.float32
    assert v.to_numpy(torch.ones(2, dtype=torch.float64), float_tensors=True).dtype == np.float32


def test_one_is_tensor_and_one_to_numpy_in_the_library():
    """Modules import _validate's is_tensor/to_numpy instead of keeping private copies."""
    import ast
    from pathlib import Path

    import tutorial_lib

    copies = ("_is_tensor", "_to_numpy", "_np", "_to_np", "_as_array")
    found = [
        f"{path.name}: {node.name}"
        for path in Path(tutorial_lib.__file__).parent.rglob("*.py")
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name in copies
    ]
    assert not found, f"private copies of is_tensor/to_numpy: {found}; import them from _validate"
