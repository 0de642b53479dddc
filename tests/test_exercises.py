"""Tests for tutorial_lib.exercises: right answers pass, wrong ones say why (and never raise)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tutorial_lib import exercises

check = exercises.check


def run(capsys, answer, expected, **kwargs) -> tuple[bool, str]:
    ok = check(answer, expected, **kwargs)
    return ok, capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (0.5, 0.5),
        (0.5 + 1e-9, 0.5),
        (3, 3),
        (3.0, 3),
        (np.float32(0.1), 0.1),
        (torch.tensor(0.25), 0.25),  # a 0-d tensor and a number are interchangeable
        (0.25, torch.tensor(0.25)),
        ("cosine", "cosine"),
        (True, True),
        (np.linspace(0, 1, 5), np.linspace(0, 1, 5).astype(np.float32)),
        (torch.arange(4.0), torch.arange(4.0, dtype=torch.float64)),
        (torch.arange(4), torch.arange(4)),
        ((1, torch.ones(2)), (1, torch.ones(2))),
        ([1, 2.0], (1, 2.0)),
        ({"a": 1.0, "b": np.zeros(2)}, {"a": 1.0, "b": np.zeros(2)}),
        (np.array([1.0, np.nan]), np.array([1.0, np.nan])),
    ],
)
def test_right_answers_pass(capsys, answer, expected):
    ok, out = run(capsys, answer, expected, name="x")
    assert ok == True and out == "✅ x is correct."  # noqa: E712 (a CheckResult)


@pytest.mark.parametrize(
    ("answer", "expected", "why"),
    [
        (None, 1.0, "not done yet"),
        (..., torch.zeros(3), "not done yet"),
        (np.zeros(3), torch.zeros(3), "expected a torch.Tensor, got a numpy array"),
        (torch.zeros(3), np.zeros(3), "expected a numpy array, got a torch.Tensor"),
        ("0.5", 0.5, "expected a number, got a str"),
        (True, 1, "expected a number, got a bool"),
        (1, True, "expected a bool"),
        (torch.zeros(2, 3), torch.zeros(3, 2), "expected (3, 2), got (2, 3)"),
        (
            torch.zeros(16000),
            torch.zeros(1, 16000),
            "wrong shape: expected (1, 16000), got (16000,)",
        ),
        (torch.zeros(1), 0.0, "shape (1,) (use .item()"),
        (torch.arange(3), torch.arange(3.0), "wrong dtype: expected float values"),
        (
            np.array([1.0, np.nan, 3.0]),
            np.array([1.0, 2.0, 3.0]),
            "NaN value(s) (first at index [1])",
        ),
        (float("nan"), 1.0, "is NaN"),
        (0.6, 0.5, "too large: abs error 0.1, relative error 0.2"),
        (7, 5, "off by +2"),
        ("linear", "cosine", "not the expected answer"),
        ("Cosine ", "cosine", "capitals and spaces"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "wrong length: expected 3 items, got 2"),
        ((1.0, torch.ones(2)), (1.0, torch.zeros(2)), "item 1:"),
        ({"a": 1}, {"a": 1, "b": 2}, "missing keys ['b']"),
        (np.array([1, 2, 4]), np.array([1, 2, 3]), "1 of 3 values differ (first at index [2])"),
    ],
)
def test_wrong_answers_say_why(capsys, answer, expected, why):
    ok, out = run(capsys, answer, expected, name="alpha_bar")
    assert ok == False  # noqa: E712
    assert out.startswith("❌ alpha_bar is not right yet: ")
    assert why in out, out


def test_array_error_reports_max_error_index_and_relative_error(capsys):
    expected = torch.linspace(1.0, 2.0, 12).reshape(3, 4)
    answer = expected.clone()
    answer[2, 1] += 0.5
    answer[0, 0] += 0.01
    ok, out = run(capsys, answer, expected)
    assert not ok
    assert "2 of 12 values are off" in out
    assert "max abs error 0.5 at index [2, 1]" in out
    rel = 0.5 / float(expected[2, 1])
    assert f"relative error {rel:.3g}" in out
    # The expected values themselves are not revealed.
    assert f"{float(expected[2, 1]):.4g}" not in out


def test_tolerances_are_used(capsys):
    assert check(1.001, 1.0, rtol=1e-2)
    assert not check(1.001, 1.0)
    assert check(torch.ones(3) * 1.01, torch.ones(3), rtol=0.0, atol=0.02)
    capsys.readouterr()


def test_tensor_on_any_device_and_with_grad(capsys):
    w = torch.ones(3, requires_grad=True)
    assert check(w * 2, torch.full((3,), 2.0))
    capsys.readouterr()


def test_misuse_raises_but_wrong_answers_never_do(capsys):
    with pytest.raises(ValueError, match="expected"):
        check(1.0, None)
    with pytest.raises(ValueError, match="rtol"):
        check(1.0, 1.0, rtol=-1)

    class Weird:
        def __eq__(self, other):
            raise RuntimeError("boom")

    ok, out = run(capsys, Weird(), Weird())
    assert ok == False and "could not be compared"  # noqa: E712 in out and "boom" in out


def test_compare_returns_reason_or_none():
    assert exercises.compare(np.ones(2), np.ones(2)) is None
    assert "wrong shape" in exercises.compare(np.ones(3), np.ones(2))


# ------------------------------------------------------------------------- check_function
def ref_snr(alpha_bar):
    return alpha_bar / (1 - alpha_bar)


def test_check_function_passes_a_correct_function(capsys):
    def snr(a):
        return a / (1.0 - a)

    cases = [torch.tensor([0.5, 0.9]), (torch.tensor(0.1),), {"alpha_bar": torch.tensor(0.3)}]
    ok = exercises.check_function(lambda alpha_bar: snr(alpha_bar), ref_snr, cases, name="snr")
    assert ok and capsys.readouterr().out.strip() == "✅ snr is correct on all 3 case(s)."


def test_check_function_reports_wrong_values_exceptions_and_missing_return(capsys):
    def wrong(alpha_bar):
        return alpha_bar / (1 + alpha_bar)

    assert not exercises.check_function(wrong, ref_snr, [torch.tensor([0.5])])
    out = capsys.readouterr().out
    assert "❌ wrong is not right yet: on case 1 of 1" in out and "max abs error" in out

    def crashes(alpha_bar):
        return alpha_bar / undefined_name  # noqa: F821

    assert not exercises.check_function(crashes, ref_snr, [torch.tensor([0.5])])
    out = capsys.readouterr().out
    assert "raised NameError" in out and "undefined_name" in out

    def no_return(alpha_bar):
        alpha_bar / (1 - alpha_bar)

    assert not exercises.check_function(no_return, ref_snr, [torch.tensor([0.5])])
    assert "forget `return`" in capsys.readouterr().out

    assert not exercises.check_function(None, ref_snr, [0.5], name="snr")
    assert "not written yet" in capsys.readouterr().out


def test_check_function_seeds_and_isolates_inputs(capsys):
    def noisy_ref(x):
        return x + torch.randn_like(x)

    def noisy_learner(x):
        x += torch.randn_like(x)  # in place: must not leak into the reference's input
        return x

    x = torch.zeros(4)
    state = torch.get_rng_state()
    assert exercises.check_function(noisy_learner, noisy_ref, [x])
    assert torch.equal(x, torch.zeros(4))
    assert torch.equal(torch.get_rng_state(), state)  # global RNG restored
    assert not exercises.check_function(noisy_learner, noisy_ref, [x], seed=None)
    capsys.readouterr()


def test_check_function_misuse():
    with pytest.raises(TypeError, match="reference"):
        exercises.check_function(ref_snr, "nope", [1])
    with pytest.raises(ValueError, match="empty"):
        exercises.check_function(ref_snr, ref_snr, [])


def test_check_result_is_a_quiet_bool(capsys):
    """The verdict works with assert/if, and shows nothing more as a cell's last value."""
    result = exercises.check(1.0, 2.0, name="y")
    assert not result and result == False  # noqa: E712
    assert "y is not right yet" in result.message
    assert result._ipython_display_() is None
    assert exercises.check(2.0, 2.0)
