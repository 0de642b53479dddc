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

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from ._io import as_path, atomic_write
from ._validate import check_choice, check_int

__all__ = ["EXPORTS", "OPSET", "describe_model", "onnx_model"]

#: The ONNX opset of the exported graphs (17: LayerNormalization and GroupNorm-friendly ops,
#: supported by ONNX Runtime Web).
OPSET = 17
#: Model name -> family module name, for the models that export.
EXPORTS = {"drums-unet": "drums_unet", "drums-unet-short": "drums_unet",
           "drums-small-rf": "drums_small"}  # fmt: skip


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
