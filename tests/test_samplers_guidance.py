"""Tests for tutorial_lib.samplers.guidance: classifier-free guidance's formula and the calls
it makes for each weight."""

from __future__ import annotations

import pytest
import torch

from tutorial_lib import samplers as S


def test_guided_calls_only_what_the_weight_needs():
    calls = []
    preds = {"c": torch.tensor([2.0, 4.0]), "u": torch.tensor([1.0, 1.0])}

    def call(x, t, which):
        calls.append(which)
        return preds[which] * x + t

    x, t = torch.ones(2), torch.zeros(2)
    assert torch.equal(S.guided(call, x, t, "c", "u", 1.0), preds["c"]) and calls == ["c"]
    calls.clear()
    assert torch.equal(S.guided(call, x, t, "c", "u", 0.0), preds["u"]) and calls == ["u"]
    calls.clear()
    # u + w (c - u), the formula of Ho and Salimans (2022)
    assert torch.equal(S.guided(call, x, t, "c", "u", 3.0), torch.tensor([4.0, 10.0]))
    assert calls == ["u", "c"]
    with pytest.raises(ValueError, match="guidance"):
        S.guided(call, x, t, "c", "u", -1.0)
