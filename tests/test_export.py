"""tl.export: the reference networks as ONNX graphs, run with ONNX Runtime against PyTorch."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from reference_impl import reference

import tutorial_lib as tl
from tutorial_lib import export


def _session(path):
    ort = reference("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def unet_file(tmp_path_factory):
    return export.onnx_model("drums-unet", tmp_path_factory.mktemp("onnx") / "drums-unet.onnx")


def test_unet_graph_matches_pytorch_per_call(unet_file):
    """Any batch size, every class and "no class" (-1): one network call, max |diff| <= 1e-4."""
    net = tl.families.drums_unet.load().float().eval()
    sess = _session(unet_file)
    g = torch.Generator().manual_seed(1)
    for b, labels, t in ((1, [2], 0.9), (5, [0, 1, 2, 3, -1], 0.3)):
        x = torch.randn(b, 1, tl.families.drums_unet.LENGTH, generator=g)
        tt, y = torch.full((b,), t), torch.tensor(labels)
        with torch.no_grad():
            want = net(x, tt, y).numpy()
        got = sess.run(None, {"x": x.numpy(), "t": tt.numpy(), "label": y.numpy()})[0]
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4


def test_sidecar_describes_the_sampler_and_the_file(unet_file):
    info = json.loads(unet_file.with_suffix(".json").read_text())
    fam = tl.families.drums_unet
    assert info["inputs"] == ["x", "t", "label"] and info["classes"] == list(fam.CLASSES)
    assert info["sample_rate"] == fam.SR and info["length"] == fam.LENGTH
    assert info["scale"] == fam.SCALE and info["opset"] == export.OPSET
    s = info["sampler"]
    assert (s["steps"], s["rho"], s["guidance"]) == (fam.SAMPLING["steps"], fam.SAMPLING["rho"],
                                                      fam.SAMPLING["guidance"])  # fmt: skip
    assert info["onnx_sha256"] == hashlib.sha256(unet_file.read_bytes()).hexdigest()


def test_the_sampler_loop_on_the_graph_gives_the_familys_clip(unet_file):
    """The family's v-DDIM with guidance, written out on top of the ONNX graph as the page's
    sampler would be, gives the clip ``drums_unet.generate`` makes from the same noise."""
    fam = tl.families.drums_unet
    sess = _session(unet_file)
    steps, rho, w = 6, fam.SAMPLING["rho"], fam.SAMPLING["guidance"]
    noise = torch.randn(1, 1, fam.LENGTH, generator=torch.Generator().manual_seed(4))
    want = fam.generate(fam.load(), noise, ["snare"], steps=steps).numpy()

    def v_of(x, t, label):
        feed = {"x": x.astype(np.float32), "t": np.full(1, t, np.float32),
                "label": np.array([label], np.int64)}  # fmt: skip
        return sess.run(None, feed)[0].astype(np.float64)

    x = noise.numpy().astype(np.float64)
    times = np.linspace(1.0, 0.0, steps + 1) ** rho
    bound = 1 / fam.SCALE
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        uncond, cond = v_of(x, t, -1), v_of(x, t, fam.CLASSES.index("snare"))
        v = uncond + w * (cond - uncond)
        a, s = np.cos(np.pi * t / 2), np.sin(np.pi * t / 2)
        x0 = np.clip(a * x - s * v, -bound, bound)
        eps = s * x + a * v
        a2, s2 = np.cos(np.pi * t_next / 2), np.sin(np.pi * t_next / 2)
        x = a2 * x0 + s2 * eps
    got = np.clip(x * fam.SCALE, -1, 1)
    assert np.abs(got - want).max() <= 1e-3


def test_flow_model_exports_without_labels(tmp_path):
    path = export.onnx_model("drums-small-rf", tmp_path / "rf.onnx")
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["inputs"] == ["x", "t"] and info["classes"] is None
    assert info["sampler"]["kind"] == "euler"
    net = tl.families.drums_small.load("drums-small-rf").float().eval()
    x, t = torch.randn(3, 1, tl.families.drums_small.LENGTH), torch.full((3,), 0.7)
    with torch.no_grad():
        want = net(x, t).numpy()
    got = _session(path).run(None, {"x": x.numpy(), "t": t.numpy()})[0]
    assert np.abs(got - want).max() <= 1e-4


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="name"):
        export.onnx_model("drums-mel", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="path: expected a file name ending in .onnx"):
        export.onnx_model("drums-unet", tmp_path / "m.bin")
    with pytest.raises(ValueError, match="opset"):
        export.onnx_model("drums-unet", tmp_path / "m.onnx", opset=11)
