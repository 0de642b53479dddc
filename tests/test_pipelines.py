"""tl.pipelines.AudioDiffusionPipeline: the seed's call, checked against diffusers' pipeline."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from reference_impl import reference

import tutorial_lib as tl
from tutorial_lib.pipelines import AudioDiffusionPipeline, PipelineOutput

fam = tl.families.drums_mel


@pytest.fixture(scope="module")
def net():
    """A small random network of the family's kind (the pipeline does not care about quality)."""
    torch.manual_seed(0)
    model = fam.build(dict(fam.CONFIG, channels=[8, 16], attn_levels=[], emb_dim=32, heads=1,
                           norm_groups=4))  # fmt: skip
    with torch.no_grad():  # larger outputs than an untrained init, so the images differ
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


@pytest.fixture(scope="module")
def clip():
    return fam.dataset(1, "test").tensors()[0, 0].numpy()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_call_has_the_seeds_arguments_and_defaults():
    diffusers = reference("diffusers")
    theirs = inspect.signature(diffusers.AudioDiffusionPipeline.__call__).parameters
    ours = inspect.signature(AudioDiffusionPipeline.__call__).parameters
    assert list(ours) == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default, name
    assert AudioDiffusionPipeline(model=torch.nn.Conv2d(1, 1, 1)).get_default_steps() == 50


def test_generation_matches_diffusers_pipeline(net):
    """No input: the same generator gives diffusers' images (its DDIM scheduler set as the
    family's: linear betas, v prediction, x0 clipped to [-1, 1], trailing timesteps)."""
    diffusers = reference("diffusers")
    from diffusers.pipelines.deprecated.audio_diffusion.mel import Mel as DMel

    class Wrapped(torch.nn.Module):  # diffusers calls unet(images, t)["sample"], t an integer step
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.config = type("Config", (), {"sample_size": (64, 64), "in_channels": 1})()

        device, dtype = torch.device("cpu"), torch.float32  # diffusers' ModelMixin has them

        def forward(self, x, t):
            tt = torch.full((x.shape[0],), (int(t) + 1) / 1000, dtype=x.dtype)
            return {"sample": self.net(x, tt)}

    m = fam.MEL
    scheduler = diffusers.DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="linear", prediction_type="v_prediction",
        clip_sample=True, set_alpha_to_one=True, timestep_spacing="trailing",
    )  # fmt: skip
    dmel = DMel(x_res=m["x_res"], y_res=m["y_res"], sample_rate=m["sample_rate"],
                n_fft=m["n_fft"], hop_length=m["hop_length"], top_db=m["top_db"],
                n_iter=m["n_iter"])  # fmt: skip
    pipe = diffusers.AudioDiffusionPipeline(vqvae=None, unet=Wrapped(), mel=dmel,
                                            scheduler=scheduler)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    # 5 steps: diffusers' DDIM moves from t to t - 1000 // steps, the next visited step only
    # when steps divides 1000 (the book's sampler always moves to the next visited step)
    want, _ = pipe(batch_size=2, steps=5, generator=_gen(3), return_dict=False)
    ours = AudioDiffusionPipeline(model=net)
    out = ours(batch_size=2, steps=5, generator=_gen(3))
    assert isinstance(out, PipelineOutput) and out.sample_rate == m["sample_rate"]
    for a, b in zip(out.images, want, strict=True):
        a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
        assert a.shape == b.shape == (64, 64)
        assert np.abs(a - b).max() <= 1 and (a == b).mean() > 0.99  # float rounding at .5
    n = ours.mel.x_res * ours.mel.hop_length - ours.mel.hop_length  # librosa's inverse
    assert out.audios.shape == (2, 1, n)
    # the same images give the same audio as the seed's Mel (Griffin-Lim from the same seed)
    assert np.allclose(out.audios[0, 0], ours.mel.image_to_audio(np.asarray(out.images[0])))


def test_a_generator_controls_all_the_noise(net, clip):
    pipe = AudioDiffusionPipeline(model=net)
    kw = dict(raw_audio=clip, start_step=2, steps=5, eta=0.7, mask_end_secs=0.1)
    a = pipe(generator=_gen(1), **kw)
    b = pipe(generator=_gen(1), **kw)
    c = pipe(generator=_gen(1), step_generator=_gen(2), **kw)
    assert np.array_equal(a.audios, b.audios)
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a.images, c.images, strict=True))


def test_masks_in_seconds_keep_the_inputs_columns(net, clip):
    pipe = AudioDiffusionPipeline(model=net)
    start, end = 0.05, 0.1
    out = pipe(batch_size=2, raw_audio=clip, mask_start_secs=start, mask_end_secs=end,
               steps=4, generator=_gen(0))  # fmt: skip
    per_second = fam.SR / fam.MEL["hop_length"]  # the seed: sample_size[1] * sr / x_res / hop
    cols = int(start * per_second), int(end * per_second)
    pipe.mel.load_audio(raw_audio=clip)
    real = np.asarray(pipe.mel.audio_slice_to_image(0))
    for im in out.images:
        im = np.asarray(im)
        assert np.array_equal(im[:, : cols[0]], real[:, : cols[0]])
        assert np.array_equal(im[:, -cols[1] :], real[:, -cols[1] :])
        assert not np.array_equal(im[:, cols[0] : -cols[1]], real[:, cols[0] : -cols[1]])
    images, (sr, audios) = pipe(raw_audio=clip, start_step=3, steps=4, generator=_gen(0),
                                return_dict=False)  # fmt: skip
    assert sr == fam.SR and audios.shape[:2] == (1, 1) and len(images) == 1


def test_encode_inverts_and_slerp_is_the_samplers(net):
    pipe = AudioDiffusionPipeline(model=net)
    out = pipe(steps=8, generator=_gen(5))
    z = pipe.encode(out.images, steps=8)
    assert z.shape == (1, 1, 64, 64) and torch.isfinite(z).all()
    a, b = (
        torch.randn(1, 1, 64, 64, generator=_gen(1)),
        torch.randn(1, 1, 64, 64, generator=_gen(2)),
    )
    torch.testing.assert_close(pipe.slerp(a, b, 0.3), tl.samplers.slerp(a, b, 0.3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"start_step": 3}, ValueError, "there is none. Fix: pass audio_file or raw_audio"),
        ({"mask_start_secs": 0.1}, ValueError, "raw_audio"),
        ({"encoding": torch.zeros(1, 1, 8)}, ValueError, "encoding: .*unconditional"),
        ({"generator": 0}, TypeError, "generator: expected a torch.Generator"),
        ({"steps": 0}, ValueError, "steps"),
        ({"noise": torch.zeros(2, 1, 64, 64)}, ValueError, "noise: expected a tensor"),
        ({"eta": 2.0}, ValueError, "eta"),
    ],
)
def test_bad_calls_name_the_argument(net, kwargs, error, match):
    with pytest.raises(error, match=match):
        AudioDiffusionPipeline(model=net)(**kwargs)


def test_bad_inputs_name_the_argument(net, clip):
    pipe = AudioDiffusionPipeline(model=net)
    with pytest.raises(ValueError, match="slice: the audio holds 1 slice"):
        pipe(raw_audio=clip, slice=1, start_step=1)
    with pytest.raises(ValueError, match="mask_start_secs \\+ mask_end_secs"):
        pipe(raw_audio=clip, mask_start_secs=0.3, mask_end_secs=0.3)
    with pytest.raises(TypeError, match="model: expected the image network"):
        AudioDiffusionPipeline(model="drums-mel")


def test_encoding_asks_a_conditional_network_for_a_class():
    """The seed's ``encoding`` on the book's conditional mel model: the class of every item
    (or one per item), sampled with classifier-free guidance exactly as the family samples
    it; unknown classes are named."""
    torch.manual_seed(0)
    cond = fam.build(dict(fam.COND_CONFIG, channels=[8, 16], attn_levels=[], emb_dim=32,
                          heads=1, norm_groups=4))  # fmt: skip
    with torch.no_grad():
        for p in cond.parameters():
            p.add_(0.05 * torch.randn_like(p))
    pipe = AudioDiffusionPipeline(model=cond.eval(), guidance=3.0)
    noise = torch.randn(2, 1, 64, 64, generator=_gen(4))
    out = pipe(batch_size=2, steps=5, noise=noise, encoding=["kick", "closed_hat"])
    want = fam.sample_images(2, 5, noise=noise, model=cond, classes=["kick", "closed_hat"],
                             guidance=3.0)  # fmt: skip
    assert np.array_equal(np.stack([np.asarray(i) for i in out.images]), tl.mel.from_unit(want))
    other = pipe(batch_size=2, steps=5, noise=noise, encoding="snare")
    assert not np.array_equal(np.asarray(other.images[0]), np.asarray(out.images[0]))
    with pytest.raises(ValueError, match="encoding: unknown class 'tom'"):
        pipe(steps=2, encoding="tom")
    with pytest.raises(ValueError, match="guidance"):
        AudioDiffusionPipeline(model=cond, guidance=-2.0)
