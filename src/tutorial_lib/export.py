"""Reference networks as ONNX graphs, with what a sampler outside Python needs to know.

A registered model's network goes to one ``.onnx`` file (``torch.onnx.export``, opset 17,
any batch size) and a small JSON beside it: the sample rate, the clip length, the data scale,
the sampler the family uses with its settings and constants, the class names, and the
graph's input and output names. With both, a few dozen lines in any language (the book's
browser panel, a plug-in, a phone app) can run the same sampler as ``tutorial-lib sample``::

    path = tl.export.onnx_model("drums-unet", "site/models/drums-unet.onnx")
    # site/models/drums-unet.onnx and site/models/drums-unet.json

Exportable (:data:`EXPORTS`): ``drums-unet`` and ``drums-unet-short`` (chapter 3: v-DDIM
with classifier-free guidance by class; inputs ``x``, ``t``, ``label``, where label ``-1``
asks for no class) and ``drums-small-rf`` (chapter 2: rectified flow, Euler; inputs ``x``,
``t``). The graph is the network only: one call per sampler step (two with guidance); the
sampler loop lives on the other side, as in Python.

The book's live panel (chapter 3) runs that loop in the reader's browser
(``book/_static/live_sampler.js``, ONNX Runtime Web). To compare the page with Python, both
draw their starting noise with :func:`seeded_noise` (a counter-based hash and Box-Muller, a few
lines in any language), and :func:`live_sample` is the clip the panel makes for a seed and
settings, computed by the family's own sampler. :func:`live_panel` is the panel itself.

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from ._io import as_path, atomic_write
from ._validate import check_choice, check_int, check_number

__all__ = [
    "EXPORTS",
    "LIVE_DIR",
    "LIVE_MODELS",
    "OPSET",
    "describe_model",
    "live_panel",
    "live_sample",
    "mix32",
    "onnx_model",
    "seeded_noise",
]

#: The ONNX opset of the exported graphs (17: LayerNormalization and GroupNorm-friendly ops,
#: supported by ONNX Runtime Web).
OPSET = 17
#: Model name -> family module name, for the models that export.
EXPORTS = {"drums-unet": "drums_unet", "drums-unet-short": "drums_unet",
           "drums-small-rf": "drums_small"}  # fmt: skip
#: Where the built book serves the live panels' files, relative to the site's root: the
#: runtime and ``<model>.onnx`` + ``<model>.json`` (``book/_ext/book_fixes.py`` writes them).
LIVE_DIR = "_static/live"


def describe_model(name: str) -> dict[str, Any]:
    """What a sampler outside Python needs for model ``name`` (the JSON written beside the graph).

    Keys: ``name``, ``family``, ``sample_rate``, ``length`` (samples), ``scale`` (the network
    works on ``audio / scale``), ``inputs``/``output`` (the graph's names), ``classes`` (or
    ``null``), and ``sampler``: for the U-Net ``{"kind": "v-ddim", "times": ...,
    "alpha": "cos(pi t / 2)", "sigma": "sin(pi t / 2)", "steps", "rho", "guidance",
    "clip_x0", ...}`` (time ``t`` in [0, 1], 1 = noise; visited times ``(1 - k / steps) ** rho``);
    for the flow model ``{"kind": "euler", "steps", "velocity": "data - noise"}``
    (``x_t = (1 - t) data + t noise``, times ``1 - k / steps``, ``x <- x + (t - t_next) v``).
    Either way the result times ``scale``, clamped to [-1, 1], is the audio.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    check_choice(name, "name", list(EXPORTS))
    from .families import get

    fam = get(EXPORTS[name])
    info: dict[str, Any] = {
        "name": name,
        "family": EXPORTS[name],
        "sample_rate": int(fam.SR),
        "length": int(fam.LENGTH),
        "scale": float(fam.SCALE),
        "output": "v",
    }
    if EXPORTS[name] == "drums_unet":
        info.update(
            inputs=["x", "t", "label"],
            classes=list(fam.CLASSES),
            sampler={
                "kind": "v-ddim",
                "times": "(1 - k / steps) ** rho",
                "alpha": "cos(pi t / 2)",
                "sigma": "sin(pi t / 2)",
                "steps": int(fam.SAMPLING["steps"]),
                "rho": float(fam.SAMPLING["rho"]),
                "guidance": float(fam.SAMPLING["guidance"]),
                "no_class_label": -1,
                "clip_x0": 1.0 / float(fam.SCALE),
            },
        )
    else:
        info.update(
            inputs=["x", "t"],
            classes=None,
            sampler={
                "kind": "euler",
                "steps": int(fam.SAMPLING["steps"]),
                "times": "1 - k / steps",
                "velocity": "data - noise",
                "update": "x + (t - t_next) v",
            },
        )
    return info


def _network(name: str) -> Any:
    from .families import get

    fam = get(EXPORTS[name])
    return fam.load(name).float().eval()


def onnx_model(
    name: str, path: str | os.PathLike, *, opset: int = OPSET, example_batch: int = 2
) -> Path:
    """Write model ``name``'s network to ``path`` (ONNX) and :func:`describe_model` beside it.

    Args:
        name: one of :data:`EXPORTS`.
        path: the ``.onnx`` file to write (its folder is made; the JSON goes to the same name
            with ``.json``). Both are written atomically.
        opset: the ONNX opset (at least 17).
        example_batch: the batch of the example inputs the export traces (the graph takes
            any batch size).

    Returns:
        the path of the ``.onnx`` file. The JSON also records its SHA-256 and size.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import torch

    info = describe_model(name)
    path = as_path(path, "path")
    if path.suffix != ".onnx":
        raise ValueError(f"path: expected a file name ending in .onnx, got {str(path)!r}.")
    opset = check_int(opset, "opset", min_value=17)
    b = check_int(example_batch, "example_batch", min_value=1)
    net = _network(name)
    x = torch.randn(b, 1, info["length"], generator=torch.Generator().manual_seed(0))
    t = torch.full((b,), 0.5)
    args: tuple[Any, ...] = (x, t)
    if "label" in info["inputs"]:
        args = (x, t, torch.arange(b) % len(info["classes"]))
    axes = {k: {0: "batch"} for k in [*info["inputs"], info["output"]]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # The TorchScript exporter (dynamo=False: no onnxscript needed) traces the network
        # once and warns that the input checks' Python branches become constants; they are
        # shape checks, and tests/test_export.py runs the graph at other batch sizes.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net, args, str(tmp), input_names=info["inputs"], output_names=[info["output"]],
                opset_version=opset, dynamic_axes=axes, dynamo=False,
            )  # fmt: skip
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    data = path.read_bytes()
    info.update(opset=opset, onnx_file=path.name, onnx_sha256=hashlib.sha256(data).hexdigest(),
                onnx_bytes=len(data))  # fmt: skip
    with atomic_write(path.with_suffix(".json"), "w") as f:
        json.dump(info, f, indent=1)
    return path


# ---- seeded noise, the same in Python and in the page ----

_MASK32 = 0xFFFFFFFF
#: The odd constant (2**32 / golden ratio) that turns a seed into the hash's key.
_GOLDEN32 = 0x9E3779B9


def mix32(x: Any) -> Any:
    """The 32-bit integer hash ``lowbias32`` (C. Wellons, "Hash function prospector", 2018).

    ``x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16``, all modulo
    2**32: a bijection of 32-bit integers whose output bits each depend on every input bit.
    Takes a Python int or a NumPy ``uint32`` array (element-wise). In JavaScript, the same
    five lines with ``Math.imul`` and ``>>>`` (``book/_static/live_sampler.js``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import numpy as np

    if isinstance(x, np.ndarray):
        if x.dtype != np.uint32:
            raise TypeError(f"x: expected a uint32 array, got dtype {x.dtype}.")
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x7FEB352D)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(0x846CA68B)
        return x ^ (x >> np.uint32(16))
    x = check_int(x, "x", min_value=0, max_value=_MASK32)
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def seeded_noise(seed: int, shape: Any) -> Any:
    """Standard normal noise of ``shape`` from ``seed``, drawn the same way in Python and JS.

    The generator of the book's live panel, written out so any language can repeat it
    (``book/_static/live_sampler.js``, ``seededNoise``): with ``key = mix32(seed ^ 0x9E3779B9)``,
    the counter ``c = 0, 1, 2, ...`` gives the 32-bit word ``w(c) = mix32(mix32(c) ^ key)``
    (:func:`mix32`) and the uniform ``u(c) = (w(c) + 0.5) / 2**32`` in ``(0, 1)``. Element
    ``2k`` of the flattened (C order) output is ``sqrt(-2 ln u(2k)) cos(2 pi u(2k+1))`` and
    element ``2k + 1`` the same with ``sin`` (Box-Muller), computed in float64, then rounded
    to float32. Not ``torch.randn``: that generator is not specified outside PyTorch.

    Args:
        seed: an integer in ``[0, 2**32)``.
        shape: the output's shape, e.g. ``(1, 1, 8192)`` (at most ``2**31`` numbers).

    Returns:
        a float32 ``torch.Tensor`` of ``shape``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import numpy as np
    import torch

    seed = check_int(seed, "seed", min_value=0, max_value=_MASK32)
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list, torch.Size)) or not shape:
        raise ValueError(f"shape: expected a tuple of sizes such as (1, 1, 8192), got {shape!r}.")
    dims = tuple(check_int(d, "shape", min_value=1) for d in shape)
    n = math.prod(dims)
    if n > 2**31:
        raise ValueError(f"shape: at most 2**31 numbers, got {n}. Fix: draw it in parts.")
    key = np.uint32(mix32(seed ^ _GOLDEN32))
    pairs = (n + 1) // 2
    words = mix32(mix32(np.arange(2 * pairs, dtype=np.uint32)) ^ key)
    u = (words.astype(np.float64) + 0.5) / 2.0**32
    r = np.sqrt(-2.0 * np.log(u[0::2]))
    angle = 2.0 * np.pi * u[1::2]
    z = np.empty(2 * pairs, dtype=np.float64)
    z[0::2], z[1::2] = r * np.cos(angle), r * np.sin(angle)
    return torch.from_numpy(z[:n].astype(np.float32).reshape(dims))


#: The models the live panel runs (the graphs the book's site carries).
LIVE_MODELS = ("drums-unet", "drums-unet-short", "drums-small-rf")


def _class_label(info: dict[str, Any], class_name: str | None) -> int:
    if info["classes"] is None:
        if class_name is not None:
            raise ValueError(
                f"class_name: {info['name']!r} has no classes, got {class_name!r}. "
                "Fix: class_name=None."
            )
        return -1
    if class_name is None:
        return -1
    return info["classes"].index(check_choice(class_name, "class_name", info["classes"]))


def live_sample(
    name: str = "drums-unet",
    *,
    seed: int = 0,
    class_name: str | None = "snare",
    steps: int | None = None,
    guidance: float | None = None,
) -> Any:
    """The clip the book's live panel makes for these settings, computed in Python.

    Noise from :func:`seeded_noise` (``(1, 1, length)``), then the family's own sampler. For
    ``drums-unet`` (and ``-short``): ``drums_unet.generate`` (v-DDIM, times
    ``(1 - k / steps) ** rho``, classifier-free guidance, ``x0`` clamped to audio's range),
    mirrored by ``vddim`` in ``book/_static/live_sampler.js``. For ``drums-small-rf``
    (chapter 2): ``tl.samplers.euler_sample`` as ``drums_small.sample`` runs it (times
    ``1 - k / steps``), mirrored by ``euler``. ``tests/browser/test_live_panel.py`` checks
    the page against this function.

    Args:
        name: one of :data:`LIVE_MODELS`.
        seed: the panel's seed, in ``[0, 2**32)``.
        class_name: one of the model's classes, or ``None`` (no class: guidance is ignored;
            the only choice for ``drums-small-rf``).
        steps: sampler steps (>= 1; default the family's: 30 for the U-Net, 16 for the flow).
        guidance: classifier-free guidance ``w`` (>= 0; default the family's, 3; ignored
            without a class).

    Returns:
        float32 NumPy array ``(length,)``, the audio in ``[-1, 1]``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    check_choice(name, "name", LIVE_MODELS)
    info = describe_model(name)
    label = _class_label(info, class_name)
    steps = info["sampler"]["steps"] if steps is None else check_int(steps, "steps", min_value=1)
    from .families import get

    fam = get(EXPORTS[name])
    noise = seeded_noise(seed, (1, 1, info["length"]))
    if info["sampler"]["kind"] == "euler":
        from .samplers import euler_sample

        x = (euler_sample(_network(name), noise, steps=steps) * info["scale"]).clamp(-1, 1)
    else:
        classes = None if label < 0 else [class_name]
        x = fam.generate(fam.load(name), noise, classes, steps=steps, guidance=guidance)
    return x.reshape(-1).float().cpu().numpy()


def live_panel(
    name: str = "drums-unet",
    *,
    class_name: str | None = "snare",
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
) -> Any:
    """The book's live panel for model ``name``, as an ``IPython.display.HTML`` object.

    A ``<div class="live-panel">`` with the model's name and the starting settings; the built
    book's script (``book/_static/live_panel.js``) turns it into the controls (class and
    guidance for a model with classes, steps, seed, Generate, progress, waveform, player, time
    taken) and runs the model in the browser from ``_static/live/`` (``LIVE_DIR``), where the
    book build puts every model of :data:`LIVE_MODELS` it shows. In Jupyter, where that script
    is absent, it shows one line saying how to see it. Arguments as :func:`live_sample`
    (``class_name=None`` for ``drums-small-rf``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import html

    from IPython.display import HTML

    from .audio import MAX_PLAY_RMS_DB

    check_choice(name, "name", LIVE_MODELS)
    info = describe_model(name)
    _class_label(info, class_name)
    s = info["sampler"]
    steps = s["steps"] if steps is None else check_int(steps, "steps", min_value=1)
    if guidance is None:
        guidance = s.get("guidance", 1.0)
    guidance = check_number(guidance, "guidance", low=0.0)
    seed = check_int(seed, "seed", min_value=0, max_value=_MASK32)
    attrs = {
        "data-model": name,
        "data-live-dir": LIVE_DIR,
        "data-classes": json.dumps(info["classes"]),
        "data-class": "" if class_name is None else class_name,
        "data-steps": str(steps),
        "data-guidance": f"{guidance:g}",
        "data-seed": str(seed),
        "data-max-rms-db": f"{MAX_PLAY_RMS_DB:g}",
    }
    attr_text = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
    return HTML(
        f'<div class="live-panel" {attr_text}><p class="live-status">This panel runs the model '
        "in the built book's pages: <code>make book</code>, then <code>make serve</code>.</p>"
        "</div>"
    )
