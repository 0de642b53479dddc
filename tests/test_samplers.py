"""Tests for tutorial_lib.samplers: single steps and whole samplers against diffusers' DDIM, DDPM
and DPM-Solver++ schedulers, exact integration of known flows, seeding, and argument checks."""

from __future__ import annotations

import math

import pytest
import torch
from reference_impl import reference

import tutorial_lib as tl
from tutorial_lib import samplers as S
from tutorial_lib import schedules

N = 1000


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fake_eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth deterministic 'network' of (x, t), t (B,) in [0, 1]."""
    tt = t.view(-1, *([1] * (x.ndim - 1))).to(x)
    return 0.6 * torch.tanh(x) * torch.cos(3 * tt) + 0.2 * tt * x.roll(1, dims=-1)


# --------------------------------------------------------------------------- time grids


@pytest.mark.parametrize("steps", [1, 2, 3, 7, 10, 50, 1000])
def test_ddpm_timesteps_match_diffusers_trailing(steps):
    diffusers = reference("diffusers")
    ref = diffusers.DDIMScheduler(num_train_timesteps=N, timestep_spacing="trailing")
    ref.set_timesteps(steps)
    ts = S.ddpm_timesteps(N, steps)
    assert ts.dtype == torch.long and ts.shape == (steps,)
    assert ts.tolist() == ref.timesteps.tolist()
    assert int(ts[0]) == N - 1


def test_flow_times_and_shift():
    t = S.flow_times(4)
    torch.testing.assert_close(t, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64))
    ts = S.flow_times(4, shift=3.0)
    assert ts[0] == 1 and ts[-1] == 0 and (ts[1:-1] > t[1:-1]).all()  # more time at high noise


# --------------------------------------------------------------------------- single steps


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
    g = _gen(0)
    for t in ref.timesteps.tolist():
        xt = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        eps = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        z = torch.randn(2, 1, 64, generator=g, dtype=torch.float64)
        want = ref.step(eps, t, xt, eta=eta, variance_noise=z).prev_sample
        prev = t - N // steps
        ab_prev = float(abar[prev]) if prev >= 0 else 1.0
        got = S.ddim_step(xt, eps, float(abar[t]), ab_prev, eta=eta, noise=z)
        torch.testing.assert_close(got, want.to(got.dtype), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("steps", [None, 25])
def test_ddpm_posterior_matches_diffusers(steps):
    diffusers = reference("diffusers")
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=N,
        beta_schedule="linear",
        clip_sample=False,
        variance_type="fixed_small",
        prediction_type="sample",  # the model output is x0 itself: we test the posterior
        timestep_spacing="trailing",
    )
    # diffusers keeps the schedule in float32, where 1 - abar_t / abar_prev loses about 4
    # digits at small t; give it float64 so that both sides compute the same formula exactly.
    ref.betas, ref.alphas = ref.betas.double(), ref.alphas.double()
    ref.alphas_cumprod, ref.one = (
        ref.alphas_cumprod.double(),
        torch.tensor(1.0, dtype=torch.float64),
    )
    if steps is not None:
        ref.set_timesteps(steps)
    abar = ref.alphas_cumprod
    ts = ref.timesteps.tolist() if steps is not None else [999, 500, 37, 1]
    g = _gen(1)
    for t in ts:
        prev = int(ref.previous_timestep(t))
        ab_prev = float(abar[prev]) if prev >= 0 else 1.0
        x0 = torch.randn(3, 1, 32, generator=g, dtype=torch.float64)
        xt = torch.randn(3, 1, 32, generator=g, dtype=torch.float64)
        mean, var = S.ddpm_posterior(x0, xt, float(abar[t]), ab_prev)
        assert var == pytest.approx(float(ref._get_variance(t)), rel=1e-9)
        want = ref.step(x0, t, xt, generator=_gen(t)).prev_sample
        z = torch.randn(xt.shape, generator=_gen(t), dtype=torch.float64)
        got = mean + (math.sqrt(var) * z if t > 0 else 0)
        torch.testing.assert_close(got, want.to(got.dtype), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("steps", "prediction"), [(1, "epsilon"), (5, "epsilon"), (20, "epsilon"), (12, "v_prediction")]
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 notice inside diffusers
def test_dpm_solver_pp_2m_matches_diffusers(steps, prediction):
    diffusers = reference("diffusers")
    ref = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=N,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        algorithm_type="dpmsolver++",
        solver_order=2,
        solver_type="midpoint",
        prediction_type=prediction,
        timestep_spacing="trailing",
        final_sigmas_type="zero",
    )
    ref.set_timesteps(steps)
    x_T = torch.randn(2, 1, 48, generator=_gen(2))
    x = x_T.clone()
    for t in ref.timesteps:
        out = _fake_eps(x, torch.full((2,), (int(t) + 1) / N))
        x = ref.step(out, t, x).prev_sample
    ours = "eps" if prediction == "epsilon" else "v"
    got = S.dpm_solver_pp_2m_sample(
        _fake_eps, x_T, ref.alphas_cumprod.double(), steps=steps, prediction=ours
    )
    torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)


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
    x_T = torch.randn(2, 1, 48, generator=_gen(3))
    x = x_T.clone()
    for t in ref.timesteps:
        x = ref.step(_fake_eps(x, torch.full((2,), (int(t) + 1) / N)), t, x, eta=0.0).prev_sample
    got = S.ddim_sample(_fake_eps, x_T, ref.alphas_cumprod.double(), steps=10, eta=0.0)
    torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)


def test_ddpm_sampler_equals_ddim_eta_one_and_noise_schedule():
    ab = schedules.alpha_bar("cosine", 100)
    x_T = torch.randn(3, 1, 40, generator=_gen(4))
    a = S.ddpm_sample(_fake_eps, x_T, ab, steps=20, generator=_gen(9))
    b = S.ddim_sample(_fake_eps, x_T, ab, steps=20, eta=1.0, generator=_gen(9))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # all steps, variance "beta": the library's NoiseSchedule.generate (eps form) with the same noise
    sched = schedules.NoiseSchedule(num_steps=50, variance="beta", clip=None)

    def by_step(x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        return _fake_eps(x, (step.float() + 1) / 50)

    x_T = torch.randn(2, 1, 40, generator=_gen(5))
    torch.manual_seed(11)
    want = sched.generate(by_step, x_T.clone())
    torch.manual_seed(11)
    got = S.ddpm_sample(_fake_eps, x_T, sched.get_alpha_bar().double(), variance="beta")
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- flows


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_euler_is_exact_on_straight_paths(steps):
    x0 = torch.tensor([[0.5, -2.0], [3.0, 1.0]])

    def to_point(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # the exact flow towards one point x0: x_t = (1 - t) x0 + t z  =>  v = (x0 - x_t) / t
        return (x0 - x) / t[:, None]

    z = torch.randn(2, 2, generator=_gen(6))
    out, traj = S.euler_sample(to_point, z, steps=steps, return_trajectory=True)
    torch.testing.assert_close(out, x0, rtol=1e-6, atol=1e-6)
    # every iterate lies on the straight line from z to x0
    for t, xk in zip(traj.t, traj.x, strict=True):
        torch.testing.assert_close(xk, (1 - t.item()) * x0 + t.item() * z, rtol=1e-5, atol=1e-5)
    assert torch.allclose(S.path_straightness(traj), torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("sampler", [S.euler_sample, S.heun_sample])
def test_constant_field_is_integrated_exactly(sampler):
    c = torch.tensor([[1.5, -0.5, 2.0]])
    z = torch.randn(1, 3, generator=_gen(7))
    out = sampler(lambda x, t: c.expand_as(x), z, times=[1.0, 0.7, 0.2, 0.0])
    torch.testing.assert_close(out, z + c)  # x(0) = x(1) + integral_0^1 v dt


def test_euler_step_sign_convention():
    x0, z = torch.tensor([[2.0]]), torch.tensor([[-1.0]])
    v = x0 - z  # the rectified-flow target
    torch.testing.assert_close(S.euler_step(z, v, 1.0, 0.0), x0)
    torch.testing.assert_close(S.euler_step(z, v, 1.0, 0.5), 0.5 * x0 + 0.5 * z)


def test_heun_is_second_order():
    """On dx/dt = -v with v = -x (a curved flow), Heun's error shrinks about 4x per halving."""

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x  # dx/dt = -x from t = 1 to 0: x(0) = e * x(1)

    z = torch.ones(1, 1)
    errs = [abs(float(S.heun_sample(field, z, steps=k)) - math.e) for k in (4, 8)]
    assert 3.5 < errs[0] / errs[1] < 4.5
    errs_e = [abs(float(S.euler_sample(field, z, steps=k)) - math.e) for k in (4, 8)]
    assert 1.7 < errs_e[0] / errs_e[1] < 2.3


# --------------------------------------------------------------------------- seeding


def test_same_seed_same_samples():
    ab = schedules.alpha_bar("cosine", 200)
    x_T = torch.randn(2, 1, 32, generator=_gen(8))
    a = S.ddpm_sample(_fake_eps, x_T, ab, steps=10, generator=_gen(1))
    b = S.ddpm_sample(_fake_eps, x_T, ab, steps=10, generator=_gen(1))
    c = S.ddpm_sample(_fake_eps, x_T, ab, steps=10, generator=_gen(2))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    d1 = S.ddim_sample(_fake_eps, x_T, ab, steps=10, generator=_gen(1))
    d2 = S.ddim_sample(_fake_eps, x_T, ab, steps=10, generator=_gen(2))
    assert torch.equal(d1, d2)  # eta = 0: deterministic whatever the generator


def test_trajectory_shapes_and_nfe():
    ab = schedules.alpha_bar("cosine", 100)
    x_T = torch.randn(2, 1, 16)
    for name, nfe in [("ddpm", 4), ("ddim", 4), ("dpm++2m", 4), ("euler", 4), ("heun", 4)]:
        kw = {"alpha_bars": ab} if S.SAMPLERS[name].family == "ddpm" else {}
        calls = []

        def model(x, t, calls=calls):
            calls.append(1)
            return _fake_eps(x, t)

        out, traj = S.sample(name, model, x_T, nfe=nfe, return_trajectory=True, **kw)
        steps = S.steps_for_nfe(name, nfe)
        assert len(calls) == nfe == traj.nfe
        assert traj.x.shape == (steps + 1, 2, 1, 16) and traj.x0_hat.shape == (steps, 2, 1, 16)
        assert traj.t[-1] == 0 and torch.equal(traj.x[0], x_T) and torch.equal(traj.x[-1], out)
        assert (traj.t[1:] < traj.t[:-1]).all()


def test_path_straightness_values():
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.tensor([[3.0, 4.0]])  # (5, 1, 2)
    assert float(S.path_straightness(line)) == pytest.approx(1.0)
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert float(S.path_straightness(corner)) == pytest.approx(math.sqrt(2) / 2)


# --------------------------------------------------------------------------- bad input


def test_bad_steps_and_shapes_raise_clear_errors():
    ab = schedules.alpha_bar("cosine", 100)
    x = torch.randn(2, 1, 8)
    with pytest.raises(ValueError, match="steps: expected at least 1"):
        S.ddim_sample(_fake_eps, x, ab, steps=0)
    with pytest.raises(ValueError, match="at most 100 steps"):
        S.ddim_sample(_fake_eps, x, ab, steps=101)
    with pytest.raises(TypeError, match="steps: expected a whole number"):
        S.euler_sample(_fake_eps, x, steps=2.5)
    with pytest.raises(ValueError, match=r"x_T: expected a batch with the batch axis first"):
        S.ddpm_sample(_fake_eps, torch.randn(8), ab)
    with pytest.raises(TypeError, match="z: expected a torch tensor"):
        S.euler_sample(_fake_eps, [[0.0, 1.0]], steps=2)
    with pytest.raises(ValueError, match="model: expected an output of the shape"):
        S.euler_sample(lambda x, t: x[:, :1], torch.randn(2, 3), steps=2)
    with pytest.raises(ValueError, match="times: expected strictly decreasing"):
        S.euler_sample(_fake_eps, x, times=[0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="nfe: heun uses 2 evaluations"):
        S.sample("heun", _fake_eps, x, nfe=3)
    with pytest.raises(ValueError, match="pass exactly one"):
        S.sample("euler", _fake_eps, x, nfe=2, steps=2)
    with pytest.raises(ValueError, match="alpha_bars: sampler 'ddim' needs"):
        S.sample("ddim", _fake_eps, x, nfe=2)
    with pytest.raises(ValueError, match="unknown value 'dpm'"):
        S.sample("dpm", _fake_eps, x, nfe=2)
    with pytest.raises(ValueError, match="non-increasing"):
        S.ddim_sample(_fake_eps, x, ab.flip(0), steps=4)
    with pytest.raises(ValueError, match=r"eta: expected a value in \[0, 1\]"):
        S.ddim_sample(_fake_eps, x, ab, steps=4, eta=1.5)
    with pytest.raises(ValueError, match="alpha_bar_prev: expected the less noisy"):
        S.ddim_step(x, x, 0.5, 0.2)
    with pytest.raises(ValueError, match="t_next: expected a time before t"):
        S.euler_step(x, x, 0.2, 0.5)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        S.ddpm_sample(_fake_eps, x, ab, steps=3, generator=0)
    with pytest.raises(ValueError, match="eps prediction cannot give x0"):
        S.ddim_sample(_fake_eps, x, schedules.alpha_bar("rectified_flow", 100), steps=4)


# ------------------------------------------------------------------ DDIM inversion and slerp
def _gaussian_eps_model(c: float):
    """The exact noise predictor for data N(0, c^2 I) on the linear schedule (1000 steps)."""
    ab_all = tl.schedules.alpha_bar("linear", 1000)

    def model(x, t):
        s = (t * 1000).round().long() - 1
        ab = ab_all[s].to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        return (1 - ab).sqrt() * x / (ab * c**2 + 1 - ab)

    return model, ab_all


def test_ddim_inversion_then_sampling_reconstructs_and_improves_with_steps():
    model, ab = _gaussian_eps_model(0.5)
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
    model, ab = _gaussian_eps_model(0.5)
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
    model, ab = _gaussian_eps_model(0.5)
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
    g = _gen(4)
    init = 0.5 * torch.randn(2, 1, 32, generator=g)
    z = torch.randn(2, 1, 32, generator=g)
    ab = ref.alphas_cumprod.double()
    for k in (3, 9):
        x = ref.add_noise(init, z, ref.timesteps[k : k + 1])
        for t in ref.timesteps[k:]:
            x = ref.step(_fake_eps(x, torch.full((2,), (int(t) + 1) / N)), t, x).prev_sample
        got = S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=k, init=init)
        torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)
    # the later the start, the closer to the input
    far = S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=1, init=init)
    near = S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=9, init=init)
    assert float((near - init).abs().mean()) < float((far - init).abs().mean())
    with pytest.raises(ValueError, match="start_step"):
        S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=10, init=init)
    with pytest.raises(ValueError, match="start_step"):
        S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=-1, init=init)
    with pytest.raises(ValueError, match="init"):
        S.ddim_sample(_fake_eps, z, ab, steps=10, start_step=3)
    with pytest.raises(ValueError, match="init"):
        S.ddim_sample(_fake_eps, z, ab, steps=10, init=init)


def test_ddim_inpainting_with_start_step_starts_from_the_input_everywhere():
    model, ab = _gaussian_eps_model(0.5)
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


# ------------------------------------------------------------------ classifier-free guidance


def test_guided_calls_only_what_the_weight_needs():
    calls = []
    preds = {"c": torch.tensor([2.0, 4.0]), "u": torch.tensor([1.0, 1.0])}

    def call(x, t, which):
        calls.append(which)
        return preds[which] * x + t

    x, t = torch.ones(2), torch.zeros(2)
    assert torch.equal(S.guided(call, x, t, "c", "u", 1.0), preds["c"]) and calls == ["c"]
    calls.clear()
    assert torch.equal(S.guided(call, x, t, "c", "u", 0.0), preds["u"]) and calls == ["u"]
    calls.clear()
    # u + w (c - u), the formula of Ho and Salimans (2022)
    assert torch.equal(S.guided(call, x, t, "c", "u", 3.0), torch.tensor([4.0, 10.0]))
    assert calls == ["u", "c"]
    with pytest.raises(ValueError, match="guidance"):
        S.guided(call, x, t, "c", "u", -1.0)


# ------------------------------------------------------------- the segment sampler (ch. 6)


@pytest.fixture(scope="module")
def note_decoder():
    from tutorial_lib.families import midi_synth as fam
    from tutorial_lib.models.note_decoder import NoteDecoder

    torch.manual_seed(0)
    cfg = {**fam.CONFIG, "dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}
    ds = fam.dataset(2, "test")
    notes = [fam.notes_of(ds, i) for i in range(2)]
    return NoteDecoder(**cfg).eval(), fam.segment_batch(notes, [0, 0]), fam.features(ds)[:, :64]


def _hand_ddim(net, toks, ctx, noise, w, steps=4, prediction="x0"):
    """The DDIM loop written out: out = u + w (c - u), w = 1 calls only the conditional;
    the network predicts x0 or eps."""
    times = torch.linspace(1, 0, steps + 1)
    lam = schedules.cosine_log_snr(times).float()
    a, s = torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()
    z = noise.clone()
    with torch.no_grad():
        for i in range(steps):
            tt = torch.full((len(z),), float(times[i]))
            out = net(z, tt, toks, ctx)
            if w != 1:
                u = net(z, tt)
                out = u + w * (out - u)
            x0 = out if prediction == "x0" else (z - s[i] * out) / a[i]
            x0 = x0.clamp(-1, 1)
            z = a[i + 1] * x0 + s[i + 1] * (z - a[i] * x0) / s[i]
    return z.clamp(-1, 1)


def test_segment_sampler_guidance_one_is_plain_conditional_and_zero_unconditional(note_decoder):
    tiny, toks, ctx = note_decoder
    noise = torch.randn(2, 64, 128)
    seg = S.sample_segment
    one = seg(tiny, toks, ctx, steps=4, guidance=1.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(one, _hand_ddim(tiny, toks, ctx, noise, 1.0))
    three = seg(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(three, _hand_ddim(tiny, toks, ctx, noise, 3.0))
    eps = seg(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim",
              prediction="eps")  # fmt: skip
    torch.testing.assert_close(eps, _hand_ddim(tiny, toks, ctx, noise, 3.0, prediction="eps"))
    assert not torch.allclose(three, one)
    zero = seg(tiny, toks, ctx, steps=4, guidance=0.0, noise=noise, sampler="ddim")
    uncond = seg(tiny, None, None, steps=4, noise=noise, sampler="ddim")
    torch.testing.assert_close(zero, uncond)
    anc = seg(tiny, toks, ctx, steps=4, sampler="ancestral", noise=noise)
    assert anc.shape == one.shape and anc.abs().max() <= 1
    # the seed draws the starting noise (and, ancestral, the step noise): same seed, same frames
    assert torch.equal(seg(tiny, toks, ctx, steps=2, seed=3), seg(tiny, toks, ctx, steps=2, seed=3))
    assert not torch.equal(seg(tiny, toks, ctx, steps=2, seed=3), seg(tiny, toks, ctx, steps=2))
    with pytest.raises(ValueError, match="guidance"):
        seg(tiny, toks, ctx, guidance=-1.0, noise=noise)
    with pytest.raises(ValueError, match="sampler"):
        seg(tiny, toks, ctx, sampler="euler", noise=noise)
