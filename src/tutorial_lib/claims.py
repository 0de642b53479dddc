"""Claims are tests: a page's sentences that compare measurements, asserted from its numbers.

A chapter that writes "the latent model holds most of the gap" or "the model does not follow
pitch" computes the numbers behind the sentence on the same page. A hidden cell after the
sentence asserts it from those numbers, quoting the sentence word for word::

    tl.claims.claim(
        "most of the distance to real notes is the latent model's, not the codec's",
        model_gap > codec_gap,
        model_gap=model_gap, codec_gap=codec_gap,
    )

When a retrain changes the numbers so that the sentence is no longer true, executing the page
fails with :class:`ClaimError`, which names the sentence and prints the numbers, instead of
the prose going stale. The book's structure rules (``tests/book_rules.py``) check that every
claim's sentence appears in the markdown cell right above it (so the prose and its test
cannot drift apart) and that the claim cells are hidden from the rendered page.

Numbers in prose come from code, by the same token: a measured number the prose quotes is
glued by the cell that measures it, :func:`glue`, and pasted with myst-nb's role
``{glue:text}`ch3_fd_ref:.1f```, so that the page cannot quote a number it did not compute.

A page that shows what the library refuses (a wrong length, a codec's wrong sample rate) runs
the call inside :func:`fails`, which prints the error's type and message, not a traceback of
the build machine's files, and fails the page when the library no longer refuses it.

Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["ClaimError", "claim", "fails", "glue", "normalise"]


class ClaimError(AssertionError):
    """A sentence of a page is contradicted by the numbers computed on that page."""


def normalise(text: str) -> str:
    """``text`` with markdown emphasis and backticks removed and whitespace collapsed.

    The form in which a claim's sentence must appear in its markdown cell (line breaks and
    ``**bold**`` in the prose do not matter).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}.")
    return re.sub(r"\s+", " ", re.sub(r"[*_`]", "", text)).strip()


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def claim(sentence: str, holds: Any, *, modes: Any = None, **numbers: Any) -> None:
    """Assert the page's ``sentence``: raise :class:`ClaimError` unless ``holds`` is true.

    Args:
        sentence: the sentence (or the part of it that states the comparison), exactly as the
            markdown cell above says it (up to emphasis and line breaks: :func:`normalise`).
        holds: the comparison computed from the page's numbers (a bool, or anything
            ``bool()`` accepts, e.g. a NumPy bool).
        modes: the run modes in which the claim is checked (default: all). A sentence about
            a table the page measures live holds for the book's sizes (``("book", "full")``);
            in ``fast`` mode (CI's few clips and steps) the same table is noise, so the claim
            is then only validated, not checked.
        numbers: the numbers behind it, printed in the error (names as on the page).

    Raises:
        ClaimError: the numbers contradict the sentence (or one of them is NaN); the message
            quotes the sentence and lists the numbers, so whoever retrained the model knows
            which sentence to rewrite.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise TypeError(
            f"sentence: expected the sentence of the page as a non-empty str, got {sentence!r}."
        )
    from ._validate import check_subset
    from .config import MODES, mode

    if modes is not None:
        modes = check_subset(list(modes) if not isinstance(modes, str) else [modes], "modes", MODES)
    bad = [k for k, v in numbers.items() if isinstance(v, float) and math.isnan(v)]
    try:
        ok = bool(holds)
    except Exception as exc:  # e.g. a tensor of several values
        raise TypeError(
            f"holds: expected one truth value, got {type(holds).__name__} ({exc}). "
            "Fix: reduce it to a single bool, e.g. with .all() or a comparison of floats."
        ) from None
    if (ok and not bad) or (modes is not None and mode() not in modes):
        return
    shown = ", ".join(f"{k} = {_show(v)}" for k, v in numbers.items()) or "(no numbers given)"
    why = f"{', '.join(bad)} is NaN" if bad else "the numbers contradict it"
    raise ClaimError(
        f"The page says: {normalise(sentence)!r}, but {why}: {shown}. "
        "Fix: rewrite the sentence (and this claim) to say what the numbers show, or find out "
        "why the numbers changed (a retrained model, a changed recipe)."
    )


@contextlib.contextmanager
def fails(kind: Any = Exception, *, match: str | None = None) -> Iterator[None]:
    """Run code that must fail, and show the error as a reader needs it: ``Type: message``.

    ::

        with tl.claims.fails(ValueError, match="multiple of"):
            net(torch.randn(1, 1, 8100), torch.tensor([0.5]))

    prints ``ValueError: x: ...`` and nothing else: no traceback, whose file paths and source
    lines are the build machine's, not the reader's. It is a claim too: when the code does not
    fail, or fails with a message that ``match`` (a regular expression, ``re.search``) does not
    find, it raises :class:`ClaimError`, so a page cannot show a refusal the library no longer
    makes. An error of another kind than ``kind`` is not caught (it is a real failure).

    Args:
        kind: the exception class expected (or a tuple of them).
        match: a pattern the message must contain, or ``None``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not kinds or not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise TypeError(
            f"kind: expected an exception class (e.g. ValueError) or a tuple of them, got {kind!r}."
        )
    if match is not None and not isinstance(match, str):
        raise TypeError(f"match: expected a regular expression (str) or None, got {match!r}.")
    names = " or ".join(k.__name__ for k in kinds)
    try:
        yield
    except kinds as err:
        message = str(err)
        if match is not None and re.search(match, message) is None:
            raise ClaimError(
                f"The page shows a {names} whose message contains {match!r}, but the message is: "
                f"{message!r}. Fix: update the page (or match) to the library's message."
            ) from err
        print(f"{type(err).__name__}: {message}")
        return
    raise ClaimError(
        f"The page shows that this code fails with {names}, but it ran without an error. "
        "Fix: remove the example, or find out why the library no longer refuses it."
    )


_GLUE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def glue(name: str, value: Any) -> None:
    """Hand a number the page computed to its prose, where ``{glue:text}`name:.1f``` prints it.

    Numbers in prose come from code: a markdown cell never types a measured number (the
    book's rule ``check_typed_numbers`` in ``tests/book_rules.py``). The code cell that
    measures it calls ``tl.claims.glue("ch3_fd_ref", fd)``, and the prose says
    ``FD {glue:text}`ch3_fd_ref:.1f```: myst-nb pastes the value, formatted, into the built
    page. Nothing is displayed in the notebook. Where myst-nb is not installed (Colab, a bare
    Jupyter) there is no book to paste into, and the call only checks its arguments.

    Args:
        name: the key, unique in the whole book: the chapter's prefix and what it is
            (``"ch3_fd_ref"``), in lowercase letters, digits and underscores.
        value: a finite number (int, float, a NumPy scalar or a one-element tensor, which
            become Python numbers so that the role's format spec can read them back) or a
            str.

    Raises:
        ValueError: ``name`` is not a lowercase key, or ``value`` is NaN or infinite.
        TypeError: ``value`` is not a number or a str.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    if not isinstance(name, str) or not _GLUE_NAME.fullmatch(name):
        raise ValueError(
            f"name: expected a key of lowercase letters, digits and underscores, got {name!r}. "
            "Fix: prefix it with the chapter, e.g. 'ch3_fd_ref'."
        )
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()  # a NumPy scalar or a one-element tensor
        except (ValueError, RuntimeError):
            raise TypeError(
                f"value: expected one number, got {type(value).__name__} of several values. "
                "Fix: reduce it to the number the prose quotes (e.g. .mean(), [0])."
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(
            f"value: expected a number or a str, got {type(value).__name__}. "
            "Fix: glue the number the prose quotes (float(x))."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"value: {name} is {value}; a page cannot quote it. Fix: find out why the "
            "measurement is not finite."
        )
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # no book build reads the glue here (Colab, a bare Jupyter)
        return
    myst_glue(name, value, display=False)
