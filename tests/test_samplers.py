"""Tests for tutorial_lib.samplers, the package: the registry and sample() by name and budget,
what the algorithm files share (samplers/_common.py: the time grids against diffusers,
trajectories, seeding, argument checks), and that every name of the algorithm files is
re-exported. Each algorithm has its own file: tests/test_samplers_<file>.py."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import torch
from reference_impl import reference
from sampler_fakes import N, fake_eps, gen

import tutorial_lib as tl
from tutorial_lib import samplers as S
from tutorial_lib import schedules

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


# --------------------------------------------------------------------------- seeding


def test_same_seed_same_samples():
    ab = schedules.alpha_bar("cosine", 200)
    x_T = torch.randn(2, 1, 32, generator=gen(8))
    a = S.ddpm_sample(fake_eps, x_T, ab, steps=10, generator=gen(1))
    b = S.ddpm_sample(fake_eps, x_T, ab, steps=10, generator=gen(1))
    c = S.ddpm_sample(fake_eps, x_T, ab, steps=10, generator=gen(2))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    d1 = S.ddim_sample(fake_eps, x_T, ab, steps=10, generator=gen(1))
    d2 = S.ddim_sample(fake_eps, x_T, ab, steps=10, generator=gen(2))
    assert torch.equal(d1, d2)  # eta = 0: deterministic whatever the generator


def test_trajectory_shapes_and_nfe():
    ab = schedules.alpha_bar("cosine", 100)
    x_T = torch.randn(2, 1, 16)
    for name, nfe in [("ddpm", 4), ("ddim", 4), ("dpm++2m", 4), ("euler", 4), ("heun", 4)]:
        kw = {"alpha_bars": ab} if S.SAMPLERS[name].family == "ddpm" else {}
        calls = []

        def model(x, t, calls=calls):
            calls.append(1)
            return fake_eps(x, t)

        out, traj = S.sample(name, model, x_T, nfe=nfe, return_trajectory=True, **kw)
        steps = S.steps_for_nfe(name, nfe)
        assert len(calls) == nfe == traj.nfe
        assert traj.x.shape == (steps + 1, 2, 1, 16) and traj.x0_hat.shape == (steps, 2, 1, 16)
        assert traj.t[-1] == 0 and torch.equal(traj.x[0], x_T) and torch.equal(traj.x[-1], out)
        assert (traj.t[1:] < traj.t[:-1]).all()


# --------------------------------------------------------------------------- bad input


def test_bad_steps_and_shapes_raise_clear_errors():
    ab = schedules.alpha_bar("cosine", 100)
    x = torch.randn(2, 1, 8)
    with pytest.raises(ValueError, match="steps: expected at least 1"):
        S.ddim_sample(fake_eps, x, ab, steps=0)
    with pytest.raises(ValueError, match="at most 100 steps"):
        S.ddim_sample(fake_eps, x, ab, steps=101)
    with pytest.raises(TypeError, match="steps: expected a whole number"):
        S.euler_sample(fake_eps, x, steps=2.5)
    with pytest.raises(ValueError, match=r"x_T: expected a batch with the batch axis first"):
        S.ddpm_sample(fake_eps, torch.randn(8), ab)
    with pytest.raises(TypeError, match="z: expected a torch tensor"):
        S.euler_sample(fake_eps, [[0.0, 1.0]], steps=2)
    with pytest.raises(ValueError, match="model: expected an output of the shape"):
        S.euler_sample(lambda x, t: x[:, :1], torch.randn(2, 3), steps=2)
    with pytest.raises(ValueError, match="times: expected strictly decreasing"):
        S.euler_sample(fake_eps, x, times=[0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="nfe: heun uses 2 evaluations"):
        S.sample("heun", fake_eps, x, nfe=3)
    with pytest.raises(ValueError, match="pass exactly one"):
        S.sample("euler", fake_eps, x, nfe=2, steps=2)
    with pytest.raises(ValueError, match="alpha_bars: sampler 'ddim' needs"):
        S.sample("ddim", fake_eps, x, nfe=2)
    with pytest.raises(ValueError, match="unknown value 'dpm'"):
        S.sample("dpm", fake_eps, x, nfe=2)
    with pytest.raises(ValueError, match="non-increasing"):
        S.ddim_sample(fake_eps, x, ab.flip(0), steps=4)
    with pytest.raises(ValueError, match=r"eta: expected a value in \[0, 1\]"):
        S.ddim_sample(fake_eps, x, ab, steps=4, eta=1.5)
    with pytest.raises(ValueError, match="alpha_bar_prev: expected the less noisy"):
        S.ddim_step(x, x, 0.5, 0.2)
    with pytest.raises(ValueError, match="t_next: expected a time before t"):
        S.euler_step(x, x, 0.2, 0.5)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        S.ddpm_sample(fake_eps, x, ab, steps=3, generator=0)
    with pytest.raises(ValueError, match="eps prediction cannot give x0"):
        S.ddim_sample(fake_eps, x, schedules.alpha_bar("rectified_flow", 100), steps=4)


# --------------------------------------------------------------------------- the package


def test_every_algorithm_file_is_re_exported_and_registered():
    files = [m.name for m in pkgutil.iter_modules(S.__path__)]
    assert {"ddpm", "ddim", "dpm_solver", "flow", "guidance", "segment", "vddim"} <= set(files)
    for name in files:
        module = importlib.import_module(f"tutorial_lib.samplers.{name}")
        for public in module.__all__:
            if public != "Model":  # a type alias, not part of the package's map
                assert public in S.__all__, f"samplers/{name}.py: {public} not in __all__"
                assert getattr(S, public) is getattr(module, public), public
    for public in S.__all__:  # tl.samplers.X for every name the map lists
        assert getattr(tl.samplers, public) is getattr(S, public)
    # every registered sampler runs through sample() and is one of the files' functions
    x_T, ab = torch.randn(1, 1, 8, generator=gen(0)), schedules.alpha_bar("cosine", 20)
    for name, info in S.SAMPLERS.items():
        kw = {"alpha_bars": ab} if info.family == "ddpm" else {}
        assert S.sample(name, fake_eps, x_T, steps=2, **kw).shape == x_T.shape
