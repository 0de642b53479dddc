"""tl.claims: a page's measured comparisons asserted from its numbers (issue: claims are tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tutorial_lib as tl
from tutorial_lib.claims import ClaimError, claim, normalise


def test_a_true_claim_passes_silently():
    assert claim("the model beats the baseline", 1.0 < 2.0, model=1.0, baseline=2.0) is None
    claim("numpy truth values work", np.float64(3.0) > 2)  # a NumPy bool
    claim("one-element tensors work", torch.tensor(True))


def test_a_false_claim_names_the_sentence_and_its_numbers():
    with pytest.raises(ClaimError) as err:
        claim("most of the gap is the **codec's**", 5.4 < 1.1, model_gap=5.4, codec_gap=1.1)
    msg = str(err.value)
    assert "most of the gap is the codec's" in msg  # the sentence, emphasis removed
    assert "model_gap = 5.4" in msg and "codec_gap = 1.1" in msg
    assert "Fix: rewrite the sentence" in msg
    assert isinstance(err.value, AssertionError)  # a failed claim fails a test run too


def test_a_nan_number_fails_even_when_the_comparison_is_true():
    with pytest.raises(ClaimError, match="fd is NaN"):
        claim("the model is close", True, fd=math.nan)


def test_modes_limit_where_a_live_table_is_checked():
    with tl.use_mode("fast"):
        claim("only at the book's sizes", False, modes=("book", "full"))  # fast: not checked
        with pytest.raises(ClaimError):
            claim("in every mode", False)
    with tl.use_mode("book"), pytest.raises(ClaimError):
        claim("only at the book's sizes", False, modes=("book", "full"))
    with pytest.raises(ValueError, match="modes"):
        claim("a typo in a mode", True, modes=("bok",))


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="sentence"):
        claim("", True)
    with pytest.raises(TypeError, match="sentence"):
        claim(None, True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="holds: expected one truth value"):
        claim("a tensor of several values", torch.tensor([True, False]))


def test_normalise_removes_emphasis_and_line_breaks():
    assert (
        normalise("The **model**\n  holds `most` of\tthe _gap_.")
        == "The model holds most of the gap."
    )
    with pytest.raises(TypeError, match="text"):
        normalise(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# glue: numbers in prose come from code.


def test_glue_hands_plain_numbers_to_myst_nb(monkeypatch):
    """NumPy and tensor scalars become Python numbers (myst-nb's format spec reads the text
    back: 'np.float64(2.5)' would not format), and nothing is displayed."""
    import myst_nb

    from tutorial_lib.claims import glue

    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda *a, **k: calls.append((a, k)))
    glue("ch9_fd", np.float64(22.25))
    glue("ch9_steps", torch.tensor(3))
    glue("ch9_class", "closed hat")
    assert calls == [
        (("ch9_fd", 22.25), {"display": False}),
        (("ch9_steps", 3), {"display": False}),
        (("ch9_class", "closed hat"), {"display": False}),
    ]
    assert type(calls[0][0][1]) is float and type(calls[1][0][1]) is int


def test_glue_refuses_what_a_page_cannot_quote():
    from tutorial_lib.claims import glue

    with pytest.raises(ValueError, match="name: expected a key"):
        glue("Chapter 3 FD", 1.0)
    with pytest.raises(ValueError, match="not finite"):
        glue("ch9_fd", math.nan)
    with pytest.raises(TypeError, match="one number"):
        glue("ch9_fd", torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="a number or a str"):
        glue("ch9_fd", [1.0])
    with pytest.raises(TypeError, match="a number or a str"):
        glue("ch9_fd", True)


def test_fails_prints_type_and_message_only(capsys):
    with tl.claims.fails(ValueError, match="length"):
        raise ValueError("x: expected a length that is a multiple of 64, got 8100.")
    out = capsys.readouterr().out
    assert out == "ValueError: x: expected a length that is a multiple of 64, got 8100.\n"
    with tl.claims.fails((TypeError, ValueError)):
        raise TypeError("y: expected a tensor")
    assert capsys.readouterr().out.startswith("TypeError: y:")


def test_fails_is_a_claim():
    with pytest.raises(tl.claims.ClaimError, match="ran without an error"):
        with tl.claims.fails(ValueError):
            pass
    with pytest.raises(tl.claims.ClaimError, match="whose message contains 'multiple'"):
        with tl.claims.fails(ValueError, match="multiple"):
            raise ValueError("something else")
    with pytest.raises(KeyError):  # another kind of error is a real failure: not caught
        with tl.claims.fails(ValueError):
            raise KeyError("k")
    with pytest.raises(TypeError, match="kind: expected an exception class"):
        with tl.claims.fails("ValueError"):
            pass
    with pytest.raises(TypeError, match="match: expected a regular expression"):
        with tl.claims.fails(ValueError, match=3):
            pass
