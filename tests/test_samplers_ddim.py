"""Tests for tutorial_lib.samplers.ddim: one step and the whole loop against diffusers'
DDIMScheduler (start_step against its add_noise), inversion, inpainting and slerp."""

from __future__ import annotations

import pytest
import torch
from reference_impl import reference
from sampler_fakes import N, fake_eps, gaussian_eps_model, gen

import tutorial_lib as tl
from tutorial_lib import samplers as S


@pytest.mark.parametrize("eta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_step_matches_diffusers(eta, steps):
    diffusers = reference("diffusers")
    ref = diffusers.DDIMScheduler(
        num_train_timesteps=N,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=False,
        set_alpha_to_one=True,
        timestep_spacing="trailing",
        prediction_type="epsilon",
    )
    ref.set_timesteps(steps)
    abar = ref.alphas_cumprod
    g = gen(0)
    for t in ref.timesteps.tolist():
        xt = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        eps = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        z = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        want = ref.step(eps, t, xt, eta=eta, variance_noise=z).prev_sample
        prev = t - N // steps
        ab_prev = float(abar[prev]) if prev >= 0 else 1.0
        got = S.ddim_step(xt, eps, float(abar[t]), ab_prev, eta=eta, noise=z)
        torch.testing.assert_close(got, want.to(got.dtype), rtol=1e-5, atol=1e-5)


def test_ddim_sampler_matches_diffusers_loop():
    diffusers = reference("diffusers")
    ref = diffusers.DDIMScheduler(
        num_train_timesteps=N,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=True,
        timestep_spacing="trailing",
    )
    ref.set_timesteps(10)
    x_T = torch.randn(2, 1, 48, generator=gen(3))
    x = x_T.clone()
    for t in ref.timesteps:
        x = ref.step(fake_eps(x, torch.full((2,), (int(t) + 1) / N)), t, x, eta=0.0).prev_sample
    got = S.ddim_sample(fake_eps, x_T, ref.alphas_cumprod.double(), steps=10, eta=0.0)
    torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clipped_eps", [False, True])
def test_ddim_clipping_matches_diffusers_use_clipped_model_output(clipped_eps):
    """clip_x0 with clipped_eps: diffusers' clip_sample with use_clipped_model_output (the
    noise direction recomputed from the clamped estimate); without it, diffusers' default."""
    diffusers = reference("diffusers")
    ref = diffusers.DDIMScheduler(
        num_train_timesteps=N, beta_schedule="linear", clip_sample=True, clip_sample_range=1.0,
        set_alpha_to_one=True, timestep_spacing="trailing", prediction_type="v_prediction",
    )  # fmt: skip
    ref.set_timesteps(10)

    def loud_v(x, t):  # x0 estimates far outside [-1, 1], so the clamp bites at every step
        return 4.0 * fake_eps(x, t) - 2.0 * x

    x_T = torch.randn(2, 1, 48, generator=gen(5), dtype=torch.float64)
    x = x_T.clone()
    for t in ref.timesteps:
        v = loud_v(x, torch.full((2,), (int(t) + 1) / N, dtype=x.dtype))
        x = ref.step(v, t, x, eta=0.0, use_clipped_model_output=clipped_eps).prev_sample
    got = S.ddim_sample(loud_v, x_T, ref.alphas_cumprod.double(), steps=10, prediction="v",
                        clip_x0=1.0, clipped_eps=clipped_eps)  # fmt: skip
    torch.testing.assert_close(got, x, rtol=1e-6, atol=1e-6)
    other = S.ddim_sample(loud_v, x_T, ref.alphas_cumprod.double(), steps=10, prediction="v",
                          clip_x0=1.0, clipped_eps=not clipped_eps)  # fmt: skip
    assert (other - x).abs().max() > 1e-2  # the two rules differ on this model


def test_clipped_eps_needs_a_flag():
    with pytest.raises(TypeError, match="clipped_eps: expected True or False"):
        S.ddim_sample(fake_eps, torch.zeros(1, 1, 8), torch.linspace(0.99, 0.01, N), steps=2,
                      clipped_eps="yes")  # fmt: skip


def test_ddim_inversion_then_sampling_reconstructs_and_improves_with_steps():
    model, ab = gaussian_eps_model(0.5)
    x0 = 0.5 * torch.randn(8, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = {}
    for steps in (10, 50, 250):
        x_T = tl.samplers.ddim_invert(model, x0, ab, steps=steps)
        back = tl.samplers.ddim_sample(model, x_T, ab, steps=steps)
        errors[steps] = float((back - x0).abs().max())
    assert errors[250] < errors[50] < errors[10]
    assert errors[250] < 0.02


def test_ddim_inversion_matches_the_seeds_encode_loop():
    """The Audio Diffusion pipeline's encode, written out from its formula, on the same steps."""
    model, ab = gaussian_eps_model(0.5)
    x0 = 0.5 * torch.randn(2, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = tl.samplers.ddpm_timesteps(1000, 20).tolist()[::-1]  # ascending
    sample = x0.clone()
    for k, t in enumerate(ts):
        prev = ts[k - 1] if k else None
        a_t = float(ab[t])
        a_prev = float(ab[prev]) if prev is not None else 1.0
        out = model(sample, torch.full((2,), (t + 1) / 1000, dtype=torch.float64))
        sample = (sample - (1 - a_prev) ** 0.5 * out) * a_prev ** (-0.5)
        sample = sample * a_t**0.5 + (1 - a_t) ** 0.5 * out
    ours = tl.samplers.ddim_invert(model, x0, ab, steps=20)
    torch.testing.assert_close(ours, sample)


def test_slerp_endpoints_norm_and_parallel_vectors():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 4096, generator=g)
    torch.testing.assert_close(tl.samplers.slerp(a, b, 0.0), a)
    torch.testing.assert_close(tl.samplers.slerp(a, b, 1.0), b)
    mid = tl.samplers.slerp(a, b, 0.5)
    lerp = 0.5 * (a + b)
    assert abs(float(mid.norm() / a.norm()) - 1) < 0.02  # keeps the norm of Gaussian noise
    assert float(lerp.norm() / a.norm()) < 0.75  # the straight line does not
    same = tl.samplers.slerp(a, 2 * a, 0.25)  # parallel: sin(theta) = 0, no NaN
    assert torch.isfinite(same).all()
    torch.testing.assert_close(same, 1.25 * a)
    with pytest.raises(ValueError, match="shape"):
        tl.samplers.slerp(a, b[:10], 0.5)
    with pytest.raises(ValueError, match="alpha"):
        tl.samplers.slerp(a, b, 1.5)
    with pytest.raises(ValueError, match="zero tensor"):
        tl.samplers.slerp(a, torch.zeros_like(a), 0.5)


def test_ddim_inpainting_keeps_the_known_region_and_leaves_the_noise_alone():
    model, ab = gaussian_eps_model(0.5)
    g = torch.Generator().manual_seed(3)
    x_T = torch.randn(2, 1, 8, 16, generator=g, dtype=torch.float64)
    known = 0.5 * torch.randn(2, 1, 8, 16, generator=g, dtype=torch.float64)
    mask = torch.zeros(2, 1, 1, 16, dtype=torch.bool)
    mask[0, ..., :4] = True  # keep the start of item 0 (outpainting its end)
    mask[1, ..., 10:] = True  # keep the end of item 1 (continuing backwards)
    before = x_T.clone()
    out = tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask, steps=20)
    torch.testing.assert_close(x_T, before)  # the caller's noise is untouched
    keep = mask.expand_as(out)
    torch.testing.assert_close(out[keep], known[keep])
    # the generated region is a sample, not the known input
    assert float((out[~keep] - known[~keep]).abs().mean()) > 0.1
    # nothing kept: plain DDIM; everything kept: the input
    none = torch.zeros_like(mask)
    torch.testing.assert_close(
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=none, steps=20),
        tl.samplers.ddim_sample(model, x_T, ab, steps=20),
    )
    torch.testing.assert_close(
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=~none, steps=20), known
    )
    with pytest.raises(TypeError, match="boolean"):
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask.float(), steps=5)
    with pytest.raises(ValueError, match="broadcast"):
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask[..., :3], steps=5)
    with pytest.raises(ValueError, match="known"):
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known[:1], mask=mask, steps=5)


def test_ddim_start_step_matches_diffusers_add_noise_then_the_remaining_steps():
    """Variations: noise the input to visited step k with diffusers' add_noise, run its DDIM loop
    from timesteps[k]; ours with start_step=k and init= gives the same (and start_step=0 is
    the plain sampler)."""
    diffusers = reference("diffusers")
    ref = diffusers.DDIMScheduler(num_train_timesteps=N, beta_schedule="linear",
                                  clip_sample=False, timestep_spacing="trailing")  # fmt: skip
    ref.set_timesteps(10)
    g = gen(4)
    init = 0.5 * torch.randn(2, 1, 32, generator=g)
    z = torch.randn(2, 1, 32, generator=g)
    ab = ref.alphas_cumprod.double()
    for k in (3, 9):
        x = ref.add_noise(init, z, ref.timesteps[k : k + 1])
        for t in ref.timesteps[k:]:
            x = ref.step(fake_eps(x, torch.full((2,), (int(t) + 1) / N)), t, x).prev_sample
        got = S.ddim_sample(fake_eps, z, ab, steps=10, start_step=k, init=init)
        torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)
    # the later the start, the closer to the input
    far = S.ddim_sample(fake_eps, z, ab, steps=10, start_step=1, init=init)
    near = S.ddim_sample(fake_eps, z, ab, steps=10, start_step=9, init=init)
    assert float((near - init).abs().mean()) < float((far - init).abs().mean())
    with pytest.raises(ValueError, match="start_step"):
        S.ddim_sample(fake_eps, z, ab, steps=10, start_step=10, init=init)
    with pytest.raises(ValueError, match="start_step"):
        S.ddim_sample(fake_eps, z, ab, steps=10, start_step=-1, init=init)
    with pytest.raises(ValueError, match="init"):
        S.ddim_sample(fake_eps, z, ab, steps=10, start_step=3)
    with pytest.raises(ValueError, match="init"):
        S.ddim_sample(fake_eps, z, ab, steps=10, init=init)


def test_ddim_inpainting_with_start_step_starts_from_the_input_everywhere():
    model, ab = gaussian_eps_model(0.5)
    g = torch.Generator().manual_seed(5)
    x_T = torch.randn(1, 1, 4, 16, generator=g, dtype=torch.float64)
    known = 0.5 * torch.randn(1, 1, 4, 16, generator=g, dtype=torch.float64)
    mask = torch.zeros(1, 1, 1, 16, dtype=torch.bool)
    mask[..., :8] = True
    before = x_T.clone()
    out = tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask, steps=20, start_step=15)
    torch.testing.assert_close(x_T, before)  # the seed wrote into the caller's noise here
    keep = mask.expand_as(out)
    torch.testing.assert_close(out[keep], known[keep])
    # nothing kept: the variation of ddim_sample
    torch.testing.assert_close(
        tl.samplers.ddim_inpaint(
            model, x_T, ab, known=known, mask=torch.zeros_like(mask), steps=20, start_step=15
        ),
        tl.samplers.ddim_sample(model, x_T, ab, steps=20, start_step=15, init=known),
    )
    # a late start keeps the generated region near the input too
    fresh = tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask, steps=20)
    assert float((out[~keep] - known[~keep]).abs().mean()) < float(
        (fresh[~keep] - known[~keep]).abs().mean()
    )
    with pytest.raises(ValueError, match="start_step"):
        tl.samplers.ddim_inpaint(model, x_T, ab, known=known, mask=mask, steps=20, start_step=20)
