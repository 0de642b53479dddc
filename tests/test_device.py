"""The device rule, checked without a GPU: every family on PyTorch's ``meta`` device.

A tensor on ``meta`` has a shape and no values, and PyTorch refuses to mix it with a CPU
tensor ("Tensor on device meta is not on the expected device cpu!"), exactly as CUDA refuses
a CPU tensor. So a loss, a training step or a sampler that creates a tensor on the CPU while
its model and batch are somewhere else fails here, on the CI's CPU, as it would on a GPU.

``test_meta_catches_the_old_vdiffusion_noise`` shows the test failing on the bug that made
the waveform U-Net crash on CUDA (``vdiffusion.noise`` computed its schedule on the CPU).
"""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import samplers, schedules, training, vdiffusion
from tutorial_lib.families import drums_mel, drums_small, drums_unet, guitar_latent, midi_synth

META = torch.device("meta")


@pytest.fixture(autouse=True)
def _fast():
    with tl.use_mode("fast"):
        yield


def _on_meta(module):
    return module.to(META)


def _all_meta(module):
    return all(t.device == META for t in (*module.parameters(), *module.buffers()))


def test_meta_catches_the_old_vdiffusion_noise(monkeypatch):
    """The old ``alpha_sigma`` (schedule on the CPU) fails the check; the new one passes."""

    def old_alpha_sigma(t):  # the code before the device rule, verbatim
        ab = schedules.cosine_alpha_bar(t, s=0.0).cpu()
        return ab.sqrt().float(), (1 - ab).clamp_min(0.0).sqrt().float()

    x0 = torch.zeros(2, 1, 64, device=META)
    t = torch.rand(2, device=META)
    assert vdiffusion.noise(x0, t).device == META  # the library now
    monkeypatch.setattr(vdiffusion, "alpha_sigma", old_alpha_sigma)
    with pytest.raises((RuntimeError, NotImplementedError)):
        vdiffusion.noise(x0, t)


def test_v_loss_on_meta():
    model = _on_meta(drums_unet.build())
    x0 = torch.zeros(2, 1, drums_unet.LENGTH, device=META)
    loss = vdiffusion.loss(model, x0, class_labels=torch.tensor([0, 1], device=META))
    assert loss.device == META and loss.shape == ()


@pytest.mark.parametrize(
    "family, name",
    [
        (drums_small, "drums-small-ddpm"),
        (drums_small, "drums-small-rf"),
        (drums_unet, "drums-unet"),
        (drums_mel, "drums-mel"),
        (midi_synth, "midi-synth"),
        (midi_synth, "midi-synth-nocontext"),
    ],
)
def test_recipe_trains_on_meta(family, name):
    """The recipe's own data, loss, trainer, EMA and optimiser, on a device that is not the CPU."""
    config = midi_synth._config(name) if family is midi_synth else None
    model = _on_meta(family.build(config))
    out = family.train_model(model, name, "fast", device="meta")
    assert _all_meta(out)


def test_guitar_latent_trains_on_meta():
    s = guitar_latent.train_settings("fast")
    trainer = guitar_latent._codec_trainer(s, None, device="meta")
    trainer.progress = False
    trainer.fit()  # the codec's recipe (the recipe then brings it to the CPU to encode)
    assert _all_meta(trainer.ema_model)
    codec = guitar_latent.build_codec().eval()
    net = guitar_latent.train_latent(codec, "fast", progress=False, device="meta")
    assert _all_meta(net)


def test_trainer_on_meta_keeps_no_numbers():
    model = _on_meta(torch.nn.Linear(4, 4))
    trainer = training.Trainer(
        model,
        lambda m, x: m(x).pow(2).mean(),
        training.random_batches(torch.zeros(8, 1, 4), 2),
        max_steps=3,
        device="meta",
        progress=False,
    )
    hist = trainer.fit()
    assert len(hist) == 3 and all(math.isnan(v) for v in hist.loss)
    assert trainer.ema_model.weight.device == META


def test_samplers_on_meta():
    unet = _on_meta(drums_unet.build()).eval()
    x = drums_unet._sample_batches(unet, 2, ["kick", "snare"], 0, drums_unet._sampling(steps=2))
    assert x.device == META and x.shape == (2, 1, drums_unet.LENGTH)

    small = _on_meta(drums_small.build()).eval()
    for objective, sampler in (("ddpm", "ddpm"), ("ddpm", "dpm++2m"), ("rf", "euler")):
        x = drums_small._samples(small, objective, 2, 2, sampler, 0)
        assert x.device == META

    mel_net = _on_meta(drums_mel.build()).eval()
    assert drums_mel.sample_images(2, 2, eta=1.0, model=mel_net).device == META
    images = torch.zeros(2, 1, 64, 64)
    assert drums_mel.variations(images, 1, steps=2, eta=1.0, model=mel_net).device == META
    mask = drums_mel.frames_mask(2, slice(0, 32))
    assert drums_mel.inpaint(images, mask, steps=2, model=mel_net).device == META
    assert drums_mel.inpaint(images, mask[:1], steps=2, model=mel_net).device == META
    assert drums_mel.encode(images, steps=2, model=mel_net).device == META

    latent = _on_meta(guitar_latent.build()).eval()
    for sampler in ("euler", "heun"):
        assert guitar_latent.sample_latents(2, 2, sampler, model=latent).device == META

    net = _on_meta(midi_synth.build()).eval()
    toks = torch.zeros(2, 8, dtype=torch.long)
    ctx = -torch.ones(2, midi_synth.FRAMES, net.n_mels)
    for sampler in ("ddim", "ancestral"):
        for guidance in (1.0, 2.0):
            seg = samplers.sample_segment(
                net, toks, ctx, steps=2, guidance=guidance, sampler=sampler
            )
            assert seg.device == META
    assert samplers.sample_segment(net, None, None, steps=2, noise=ctx).device == META


def test_fitted_latents_sample_on_meta():
    fitted = {"model": _on_meta(guitar_latent.build()).eval(), "mean": torch.zeros(16),
              "std": torch.ones(16), "frames": 32}  # fmt: skip
    z = guitar_latent.sample_fitted(fitted, 2, steps=2)
    assert z.device == META and z.shape == (2, 16, 32)


def test_place_copies_only_when_asked():
    from tutorial_lib.families import _device

    net = drums_small.build().train()
    assert _device.place(net, None) is net and not net.training  # where it is, eval mode
    assert _device.place(net, "cpu") is net  # already there: no copy
    moved = _device.place(net, META)
    assert moved is not net and _all_meta(moved) and not _all_meta(net)


@pytest.mark.parametrize(
    "fn",
    [
        drums_small.evaluate,
        drums_unet.evaluate,
        drums_unet.transform_experiment,
        drums_mel.evaluate,
        guitar_latent.evaluate,
        guitar_latent.fit_latents,
        midi_synth.evaluate,
    ],  # fmt: skip
    ids=lambda f: f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}",
)
def test_scoring_and_fitting_take_a_device(fn):
    import inspect

    param = inspect.signature(fn).parameters.get("device")
    assert param is not None and param.default is None, f"{fn.__qualname__}: add device=None"


def test_resolve_device():
    assert tl.resolve_device(None, run_mode="book") == torch.device("cpu")
    assert tl.resolve_device("auto", run_mode="fast") == torch.device("cpu")
    assert tl.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert tl.resolve_device("auto", run_mode="full") == torch.device("cpu")
        with pytest.raises(ValueError, match="not available"):
            tl.resolve_device("cuda")
    with pytest.raises(ValueError, match="device: expected one of"):
        tl.resolve_device("tpu")
    with pytest.raises(TypeError, match="device:"):
        tl.resolve_device(3)
