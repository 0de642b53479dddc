"""Reference implementations for the parity tests (diffusers, ...): skip or fail when missing.

A parity test that skips silently when its reference is missing (or moved to another module
path) checks nothing. Locally, a missing reference skips the test with the reason; under CI
(``CI`` set to true, or ``TUTORIAL_STRICT_REFERENCES=1``, which ``make unit`` sets) it fails.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def strict() -> bool:
    """Whether a missing reference must fail (CI, ``make unit``) rather than skip."""
    flags = (os.environ.get("CI", ""), os.environ.get("TUTORIAL_STRICT_REFERENCES", ""))
    return any(f.strip().lower() in ("1", "true", "yes") for f in flags)


def reference(module: str) -> ModuleType:
    """Import ``module`` (e.g. ``"diffusers"``): skip when missing, or fail in :func:`strict` mode."""
    if not strict():
        return pytest.importorskip(module)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(
            f"the parity test's reference {module!r} cannot be imported ({exc}); under CI a "
            "missing reference fails instead of skipping. Fix: install the dev dependencies "
            "(make setup), or update the import path if the package moved the module."
        )
