"""Self-checks for exercises: is my answer right, and if not, why not?

In an exercise cell::

    alpha_bar_500 = ...  # your code here
    tl.exercises.check(alpha_bar_500, expected, name="alpha_bar_500")

prints ``✅ alpha_bar_500 is correct.`` or ``❌ alpha_bar_500 is not right yet: <why>``,
where *why* says what differs (not done yet, wrong type, shape, dtype, NaN, how far off and
where) without printing the expected values. It returns ``True`` / ``False`` and never raises
on a wrong answer, so a notebook with unfinished exercises still runs; solution cells use
``assert tl.exercises.check(...)`` so the build proves the solutions right.

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ._validate import check_number, describe, is_tensor, to_numpy

__all__ = ["CheckResult", "check", "check_function", "compare"]

_PASS = "✅"
_FAIL = "❌"


class CheckResult:
    """The verdict of a self-check: true when the answer is right.

    Behaves like a ``bool`` (``if``, ``assert``, ``==``), and shows nothing of its own when
    it is the last line of a notebook cell: the check has already printed its feedback, so
    the learner sees one line, not the feedback followed by ``False``.

    Introduced in: book/00_intro/how_this_book_works.md
    """

    __slots__ = ("passed", "message")

    def __init__(self, passed: bool, message: str) -> None:
        self.passed = bool(passed)
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bool, CheckResult)):
            return self.passed == bool(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed}, message={self.message!r})"

    def _ipython_display_(self) -> None:  # the feedback was printed already
        pass


def _verdict(passed: bool, message: str) -> CheckResult:
    print(message)
    return CheckResult(passed, message)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_))


def _kind(x: Any) -> str:
    if x is None:
        return "None"
    if is_tensor(x):
        return "a torch.Tensor"
    if isinstance(x, np.ndarray):
        return "a numpy array"
    if _is_bool(x):
        return "a bool"
    if _is_number(x):
        return f"a number ({type(x).__name__})"
    if isinstance(x, str):
        return "a str"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__}"
    return f"a {type(x).__module__}.{type(x).__qualname__}"


def _scalar_value(x: Any) -> Any | None:
    """A Python number if ``x`` is a number, a 0-d array or a 0-d tensor (not bool); else None."""
    if _is_bool(x):
        return None
    if _is_number(x):
        return x.item() if isinstance(x, np.generic) else x
    if is_tensor(x) and x.ndim == 0:
        return None if str(x.dtype) == "torch.bool" else x.item()
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return None if x.dtype == np.bool_ else x.item()
    return None


def _dtype_family(arr: np.ndarray) -> str:
    if arr.dtype == np.bool_:
        return "bool"
    if np.issubdtype(arr.dtype, np.complexfloating):
        return "complex"
    if np.issubdtype(arr.dtype, np.floating):
        return "float"
    if np.issubdtype(arr.dtype, np.integer):
        return "integer"
    return str(arr.dtype)


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _compare_arrays(a_obj: Any, e_obj: Any, where: str, rtol: float, atol: float) -> str | None:
    a = to_numpy(a_obj)
    e = to_numpy(e_obj)
    if a.shape != e.shape:
        hint = ""
        if a.size == e.size:
            hint = " (same number of elements: reshape, squeeze or transpose?)"
        elif a.ndim == e.ndim + 1 or a.ndim + 1 == e.ndim:
            hint = " (one axis more or less: a missing or extra batch/channel axis?)"
        return f"{where}wrong shape: expected {tuple(e.shape)}, got {tuple(a.shape)}{hint}."
    fa, fe = _dtype_family(a), _dtype_family(e)
    if fa != fe:
        return (
            f"{where}wrong dtype: expected {fe} values ({e_obj.dtype}), got {fa} ({a_obj.dtype})."
        )
    if fe not in ("float", "complex"):  # integers, bools, strings: exact
        wrong = a != e
        n_wrong = int(np.count_nonzero(wrong))
        if n_wrong == 0:
            return None
        first = f" (first at index {_fmt_index(tuple(np.argwhere(wrong)[0]))})" if a.ndim else ""
        return f"{where}{n_wrong} of {a.size} values differ{first}."
    a64 = a.astype(np.complex128 if fe == "complex" else np.float64)
    e64 = e.astype(a64.dtype)
    a_nan, e_nan = np.isnan(a64), np.isnan(e64)
    extra_nan = a_nan & ~e_nan
    if np.any(extra_nan):
        first = np.argwhere(extra_nan)[0] if a.ndim else ()
        return (
            f"{where}holds {int(extra_nan.sum())} NaN value(s) "
            f"(first at index {_fmt_index(tuple(first))}); NaN often comes from 0/0, "
            f"log or sqrt of a negative number, or a diverged loop."
        )
    if np.any(a_nan != e_nan):
        return (
            f"{where}has numbers where NaN was expected ({int((e_nan & ~a_nan).sum())} value(s))."
        )
    a_inf, e_inf = np.isinf(a64), np.isinf(e64)
    if np.any(a_inf | e_inf):
        bad = (a_inf | e_inf) & ~(a64 == e64)
        if np.any(bad):
            first = np.argwhere(bad)[0] if a.ndim else ()
            return (
                f"{where}{int(bad.sum())} value(s) are infinite or should be "
                f"(first at index {_fmt_index(tuple(first))})."
            )
    ok = a_nan | a_inf | np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(ok):
        return None
    err = np.where(ok, 0.0, np.abs(a64 - e64))
    flat = int(np.argmax(err))
    idx = np.unravel_index(flat, a.shape) if a.ndim else ()
    max_err = float(err.reshape(-1)[flat]) if a.ndim else float(err)
    ref = float(np.abs(e64.reshape(-1)[flat])) if a.ndim else float(np.abs(e64))
    rel = f"{max_err / ref:.3g}" if ref > 0 else "inf (the expected value there is 0)"
    n_bad = int(np.count_nonzero(~ok))
    where_idx = f" at index {_fmt_index(idx)}" if a.ndim else ""
    count = f"{n_bad} of {a.size} values are off; " if a.ndim else ""
    return (
        f"{where}{count}max abs error {max_err:.3g}{where_idx} (relative error {rel}; "
        f"tolerance rtol={rtol:g}, atol={atol:g})."
    )


def _compare_numbers(a: Any, e: Any, where: str, rtol: float, atol: float) -> str | None:
    if isinstance(e, numbers.Integral) and isinstance(a, numbers.Integral):
        if a == e:
            return None
        return f"{where}{a} is not the expected integer (off by {a - e:+d})."
    if isinstance(e, numbers.Complex) and not isinstance(e, numbers.Real) or isinstance(a, complex):
        diff = abs(complex(a) - complex(e))
        if diff <= atol + rtol * abs(complex(e)):
            return None
        return f"{where}off by {diff:.3g} (abs error)."
    a, e = float(a), float(e)
    if math.isnan(a) and not math.isnan(e):
        return f"{where}is NaN; NaN often comes from 0/0, log or sqrt of a negative number."
    if math.isnan(e):
        return None if math.isnan(a) else f"{where}expected NaN here, got a number."
    if math.isinf(a) or math.isinf(e):
        return None if a == e else f"{where}is {a}, which is not the expected value."
    diff = abs(a - e)
    if diff <= atol + rtol * abs(e):
        return None
    rel = f"{diff / abs(e):.3g}" if e != 0 else "inf (the expected value is 0)"
    direction = "too large" if a > e else "too small"
    return (
        f"{where}{direction}: abs error {diff:.3g}, relative error {rel} "
        f"(tolerance rtol={rtol:g}, atol={atol:g})."
    )


def compare(
    answer: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6, where: str = ""
) -> str | None:
    """Why ``answer`` does not match ``expected`` (a sentence), or ``None`` when it matches.

    The comparison behind :func:`check`, without printing. Numbers and float arrays/tensors
    match within ``|answer - expected| <= atol + rtol * |expected|``; integers, bools and
    strings exactly; lists/tuples/dicts item by item. A torch tensor must be answered with a
    tensor and a numpy array with an array (a 0-d array or tensor and a number are
    interchangeable).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    if answer is None or answer is Ellipsis:
        what = "None" if answer is None else "still ... (Ellipsis)"
        return (
            f"{where}not done yet (it is {what}). Replace the placeholder with your code "
            f"(and check that your function returns its result)."
        )
    # Scalars: a number, a 0-d array and a 0-d tensor are interchangeable.
    e_scalar = _scalar_value(expected)
    if e_scalar is not None:
        a_scalar = _scalar_value(answer)
        if a_scalar is None:
            if is_tensor(answer) or isinstance(answer, np.ndarray):
                shape = tuple(answer.shape)
                hint = " (use .item() or .squeeze())." if int(np.prod(shape)) == 1 else "."
                return (
                    f"{where}wrong shape: expected a single number (shape ()), got "
                    f"{_kind(answer)} of shape {shape}{hint}"
                )
            return f"{where}wrong type: expected a number, got {_kind(answer)}."
        return _compare_numbers(a_scalar, e_scalar, where, rtol, atol)
    if _is_bool(expected):
        if not _is_bool(answer):
            return f"{where}wrong type: expected a bool (True or False), got {_kind(answer)}."
        return (
            None
            if bool(answer) == bool(expected)
            else f"{where}is {bool(answer)}, which is not right."
        )
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return f"{where}wrong type: expected a str, got {_kind(answer)}."
        if answer == expected:
            return None
        if answer.strip().lower() == expected.strip().lower():
            return f"{where}almost: check capitals and spaces."
        return f"{where}the text is not the expected answer."
    if is_tensor(expected) or isinstance(expected, np.ndarray):
        want_tensor = is_tensor(expected)
        if want_tensor and not is_tensor(answer):
            fix = (
                " Fix: torch.as_tensor(...)."
                if isinstance(answer, (np.ndarray, list, tuple))
                else ""
            )
            return f"{where}wrong type: expected a torch.Tensor, got {_kind(answer)}.{fix}"
        if not want_tensor and not isinstance(answer, np.ndarray):
            fix = (
                " Fix: .detach().cpu().numpy()." if is_tensor(answer) else " Fix: np.asarray(...)."
            )
            return f"{where}wrong type: expected a numpy array, got {_kind(answer)}.{fix}"
        return _compare_arrays(answer, expected, where, rtol, atol)
    if isinstance(expected, (list, tuple)):
        if not isinstance(answer, (list, tuple)):
            return f"{where}wrong type: expected a {type(expected).__name__} of {len(expected)} items, got {_kind(answer)}."
        if len(answer) != len(expected):
            return f"{where}wrong length: expected {len(expected)} items, got {len(answer)}."
        for i, (a_i, e_i) in enumerate(zip(answer, expected, strict=True)):
            why = compare(a_i, e_i, rtol=rtol, atol=atol, where=f"item {i}: ")
            if why is not None:
                return f"{where}{why}"
        return None
    if isinstance(expected, Mapping):
        if not isinstance(answer, Mapping):
            return f"{where}wrong type: expected a dict, got {_kind(answer)}."
        missing = [k for k in expected if k not in answer]
        extra = [k for k in answer if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if extra:
                parts.append(f"unexpected keys {extra}")
            return f"{where}{' and '.join(parts)}."
        for k in expected:
            why = compare(answer[k], expected[k], rtol=rtol, atol=atol, where=f"[{k!r}]: ")
            if why is not None:
                return f"{where}{why}"
        return None
    # Anything else: plain equality.
    if type(answer) is not type(expected) and not isinstance(answer, type(expected)):
        return f"{where}wrong type: expected {_kind(expected)}, got {_kind(answer)}."
    return None if answer == expected else f"{where}is not the expected value."


def _check_tolerances(rtol: float, atol: float) -> tuple[float, float]:
    return check_number(rtol, "rtol", low=0.0), check_number(atol, "atol", low=0.0)


def _check_expected(expected: Any, name: str = "expected") -> None:
    if expected is None or expected is Ellipsis:
        raise ValueError(
            f"{name}: is {expected!r}; check() needs the reference answer to compare with. "
            f"(This is a mistake in the exercise cell, not in your answer.)"
        )


def check(
    answer: Any, expected: Any, *, name: str = "answer", rtol: float = 1e-5, atol: float = 1e-6
) -> CheckResult:
    """Print whether ``answer`` matches ``expected`` and, if not, why; return ``True``/``False``.

    Prints ``✅ <name> is correct.`` or ``❌ <name> is not right yet: <why>``, where *why*
    is one of: not done yet (``None`` or ``...``), wrong type (tensor vs array vs number),
    wrong shape (both shown), wrong dtype (integer vs float vs bool), NaN present, the max
    abs error and its index with the relative error, or which item of a list/dict differs.
    Expected values are never printed.

    Args:
        answer: the learner's answer: a number, numpy array, torch tensor (any device), str,
            bool, or a list/tuple/dict of those.
        expected: the reference answer, of the same kind.
        name: what to call the answer in the message.
        rtol, atol: tolerances for floats: ``|answer - expected| <= atol + rtol * |expected|``.

    Never raises on a wrong answer; raises ``ValueError`` only on misuse (``expected`` is
    ``None``, negative tolerances). Solution cells use ``assert tl.exercises.check(...)``.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    _check_expected(expected)
    rtol, atol = _check_tolerances(rtol, atol)
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {describe(name)}.")
    try:
        why = compare(answer, expected, rtol=rtol, atol=atol)
    except Exception as err:  # never raise on a learner's answer
        why = f"could not be compared with the expected answer ({type(err).__name__}: {err})."
    if why is None:
        return _verdict(True, f"{_PASS} {name} is correct.")
    return _verdict(False, f"{_FAIL} {name} is not right yet: {why}")


@contextlib.contextmanager
def _forked_rng(seed: int | None) -> Iterator[None]:
    """Seed Python/numpy/torch for one call and restore their previous states after it."""
    if seed is None:
        yield
        return
    import random

    import torch

    # The legacy global numpy generator is what learners' code (np.random.randn) draws from.
    np_random = np.random
    py_state, np_state = random.getstate(), np_random.get_state()  # noqa: NPY002
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    random.seed(seed)
    np_random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np_random.set_state(np_state)  # noqa: NPY002
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def _call_args(case: Any) -> tuple[tuple, dict]:
    if isinstance(case, tuple):
        return case, {}
    if isinstance(case, Mapping):
        return (), dict(case)
    return (case,), {}


def _copy(obj: Any) -> Any:
    try:
        return copy.deepcopy(obj)
    except Exception:
        return obj


def _short(args: tuple, kwargs: dict) -> str:
    def one(v: Any) -> str:
        shape = getattr(v, "shape", None)
        if shape is not None and len(tuple(shape)) > 0:
            return f"<{type(v).__name__} of shape {tuple(shape)}>"
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def check_function(
    fn: Callable[..., Any] | None,
    reference: Callable[..., Any],
    cases: Iterable[Any],
    *,
    name: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int | None = 0,
) -> CheckResult:
    """Call the learner's ``fn`` and a ``reference`` on each case and compare, as :func:`check`.

    Args:
        fn: the learner's function (``None`` counts as not done yet).
        reference: the correct function.
        cases: inputs, each a tuple of positional arguments, a dict of keyword arguments, or
            a single argument.
        name: what to call the function (default ``fn.__name__``).
        rtol, atol: tolerances, as in :func:`check`.
        seed: each call runs with Python/numpy/torch seeded to this (so functions that draw
            noise can be compared); the previous random states are restored afterwards.
            ``None`` leaves the generators alone.

    Each call gets its own copy of the inputs, so in-place changes cannot leak between calls.
    An exception inside ``fn`` is reported as feedback (with the case), not raised. Prints
    ``✅ <name> is correct on all N cases.`` or ``❌ <name> is not right yet: <why>``, and
    returns ``True``/``False``.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    if not callable(reference):
        raise TypeError(f"reference: expected the correct function, got {describe(reference)}.")
    rtol, atol = _check_tolerances(rtol, atol)
    if isinstance(cases, (str, bytes)) or not isinstance(cases, Iterable):
        raise TypeError(f"cases: expected a list of inputs, got {describe(cases)}.")
    cases = list(cases)
    if not cases:
        raise ValueError("cases: is empty. Fix: pass at least one input to test the function on.")
    if name is None:
        name = getattr(fn, "__name__", None) or getattr(reference, "__name__", "your function")
    if fn is None or fn is Ellipsis:
        return _verdict(
            False, f"{_FAIL} {name} is not right yet: it is not written yet (still None or ...)."
        )
    if not callable(fn):
        return _verdict(
            False, f"{_FAIL} {name} is not right yet: expected a function, got {_kind(fn)}."
        )
    for i, case in enumerate(cases):
        args, kwargs = _call_args(case)
        with _forked_rng(seed):
            expected = reference(*_copy(args), **_copy(kwargs))
        _check_expected(expected, f"reference{_short(args, kwargs)} returned None: expected")
        label = f"on case {i + 1} of {len(cases)}, {name}{_short(args, kwargs)}"
        try:
            with _forked_rng(seed):
                answer = fn(*_copy(args), **_copy(kwargs))
        except Exception as err:
            return _verdict(
                False,
                f"{_FAIL} {name} is not right yet: {label} raised {type(err).__name__}: {err}",
            )
        if answer is None:
            why = "returned None. Did you forget `return`?"
        else:
            try:
                why = compare(answer, expected, rtol=rtol, atol=atol)
            except Exception as err:
                why = f"could not be compared ({type(err).__name__}: {err})."
        if why is not None:
            return _verdict(False, f"{_FAIL} {name} is not right yet: {label}: {why}")
    return _verdict(True, f"{_PASS} {name} is correct on all {len(cases)} case(s).")
