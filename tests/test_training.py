"""Tests for tutorial_lib.training: the Trainer, EMA, clipping, checkpoints and exact resume."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn

from tutorial_lib import checkpoints as ck
from tutorial_lib.training import History, Trainer, ema_weights, latest_checkpoint

matplotlib.use("Agg")


class Noisy(nn.Module):
    """A tiny net with dropout (global RNG inside the model) and a BatchNorm buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.net(x))


def noisy_loss(model, batch):
    x, y = batch
    x = x + 0.1 * torch.randn_like(x)  # randomness inside the loss, like diffusion noise
    return ((model(x) - y) ** 2).mean()


def random_batch(step):
    x = torch.randn(8, 3)
    return x, x.sum(dim=1, keepdim=True)


def make_model(seed=0):
    torch.manual_seed(seed)
    return Noisy()


def kw(**extra):
    base = dict(lr=1e-2, ema_decay=0.9, progress=False)
    base.update(extra)
    return base


def assert_trainers_equal(a: Trainer, b: Trainer) -> None:
    for (k, p), (_, q) in zip(
        a.model.state_dict().items(), b.model.state_dict().items(), strict=True
    ):
        assert torch.equal(p, q), f"model {k}"
    for (k, p), (_, q) in zip(a.ema_state.items(), b.ema_state.items(), strict=True):
        assert torch.equal(p, q), f"ema {k}"
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    for i in sa:
        for name in sa[i]:
            assert torch.equal(sa[i][name], sb[i][name]), f"optimizer {i}.{name}"
    assert a.history.loss == b.history.loss
    assert a.history.grad_norm == b.history.grad_norm
    assert a.step == b.step


# ---------------------------------------------------------------------------- learning


def test_loss_goes_down_on_a_fixed_batch():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    x = torch.randn(32, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.3

    def loss_fn(m, batch):
        return ((m(batch[0]) - batch[1]) ** 2).mean()

    history = Trainer(model, loss_fn, lambda step: (x, y), max_steps=40, **kw(lr=0.1)).fit()
    assert len(history) == 40 and history.step == list(range(1, 41))
    assert history.loss[-1] < 0.1 * history.loss[0]
    assert all(t2 >= t1 for t1, t2 in zip(history.time, history.time[1:], strict=False))


def test_list_of_batches_is_cycled():
    batches = [random_batch(i) for i in range(3)]
    trainer = Trainer(make_model(), noisy_loss, batches, max_steps=7, **kw())
    trainer.fit()
    assert trainer._source.epoch == 2 and trainer._source.pos == 1


def test_lr_warmup():
    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=5, warmup_steps=3, **kw(lr=0.3))
    history = t.fit()
    assert history.lr == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])


def test_cosine_decay_spans_decay_steps_across_stages():
    import math

    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=3, warmup_steps=1,
                decay="cosine", decay_steps=5, **kw(lr=0.4))  # fmt: skip
    t.fit()  # a first stage (the recipes export their short checkpoint here) ...
    t.max_steps = 5
    history = t.fit()  # ... then the rest of the run: one schedule over both stages
    cos = [0.4 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert history.lr == pytest.approx([0.4, *cos[:4]][:5])
    assert t.lr_at(5) == 0.0 and t.lr_at(99) == 0.0  # stays at 0 past the end


# ---------------------------------------------------------------------------- EMA


def test_ema_follows_the_formula_for_one_step():
    model = make_model()
    before = {k: v.clone() for k, v in model.named_parameters()}
    t = Trainer(model, noisy_loss, random_batch, max_steps=1, ema_warmup=False, **kw(ema_decay=0.9))
    t.fit()
    ema = dict(t.ema_model.named_parameters())
    for k, p in model.named_parameters():
        assert not torch.equal(p, before[k])  # the weights moved
        expected = 0.9 * before[k] + 0.1 * p.detach()
        assert torch.allclose(ema[k], expected, rtol=0, atol=1e-7), k
        assert not torch.equal(ema[k], p)  # EMA differs from the raw weights
    # buffers (BatchNorm running stats) are copied, not averaged
    assert torch.equal(t.ema_model.net[1].running_mean, model.net[1].running_mean)
    assert not any(p.requires_grad for p in t.ema_model.parameters())


def test_ema_warmup_schedule():
    model = make_model()
    before = {k: v.clone() for k, v in model.named_parameters()}
    t = Trainer(model, noisy_loss, random_batch, max_steps=1, **kw(ema_decay=0.999))
    assert t.ema_decay_at(0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert t.ema_decay_at(90) == pytest.approx(91 / 100)
    assert t.ema_decay_at(10**6) == 0.999
    t.fit()
    for k, e in t.ema_model.named_parameters():
        p = dict(model.named_parameters())[k].detach()
        assert torch.allclose(e, 0.1 * before[k] + 0.9 * p, rtol=0, atol=1e-7)


def test_no_ema():
    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=2, **kw(ema_decay=None))
    t.fit()
    assert t.ema_model is None and t.ema_state is None
    with pytest.raises(ValueError, match="EMA"):
        t.export("x.safetensors")


# ---------------------------------------------------------------------------- clipping


def quadratic_setup(grad_clip):
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    w0 = [p.detach().clone() for p in model.parameters()]

    def loss_fn(m, batch):
        return 1000.0 * sum((p**2).sum() for p in m.parameters())

    t = Trainer(model, loss_fn, lambda s: None, max_steps=1, grad_clip=grad_clip, **kw())
    t.fit()
    raw = [2000.0 * w for w in w0]  # d/dw of 1000 * w^2, computed independently
    raw_norm = math.sqrt(sum(float((g**2).sum()) for g in raw))
    return t, raw, raw_norm


def test_grad_clipping_bounds_the_norm():
    t, raw, raw_norm = quadratic_setup(grad_clip=0.5)
    assert t.history.grad_norm[0] == pytest.approx(raw_norm, rel=1e-5)  # logged before clipping
    grads = [p.grad for p in t.model.parameters()]
    clipped_norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
    assert clipped_norm <= 0.5 * (1 + 1e-5)
    for g, r in zip(grads, raw, strict=True):
        assert torch.allclose(g, r * 0.5 / raw_norm, rtol=1e-4, atol=1e-8)


def test_no_clipping_keeps_gradients():
    t, raw, raw_norm = quadratic_setup(grad_clip=None)
    for g, r in zip((p.grad for p in t.model.parameters()), raw, strict=True):
        assert torch.allclose(g, r, rtol=1e-5)


# ---------------------------------------------------------------------------- checkpoints / resume


class Interrupt(Exception):
    pass


def interrupting(loss_fn, at_step):
    calls = {"n": 0}

    def wrapped(model, batch):
        if calls["n"] == at_step:
            raise Interrupt
        calls["n"] += 1
        return loss_fn(model, batch)

    return wrapped


def test_exact_resume_is_bit_identical(tmp_path):
    opts = kw(ckpt_every=3, seed=7, grad_clip=0.5)
    full = Trainer(
        make_model(), noisy_loss, random_batch, max_steps=6, ckpt_dir=tmp_path / "a", **opts
    )
    full.fit()

    broken = Trainer(
        make_model(),
        interrupting(noisy_loss, at_step=4),
        random_batch,
        max_steps=6,
        ckpt_dir=tmp_path / "b",
        **opts,
    )
    with pytest.raises(Interrupt):
        broken.fit()
    assert latest_checkpoint(tmp_path / "b").name == "step_00000003.safetensors"

    # a fresh process: new model (other init), new trainer, resume from the newest checkpoint
    resumed = Trainer(
        make_model(seed=99), noisy_loss, random_batch, max_steps=6, ckpt_dir=tmp_path / "b", **opts
    )
    resumed.fit(resume=True)
    assert_trainers_equal(full, resumed)
    # the uninterrupted run is not trivially equal to any run: another seed differs
    other = Trainer(
        make_model(), noisy_loss, random_batch, max_steps=6, **kw(seed=8, grad_clip=0.5)
    )
    other.fit()
    assert not torch.equal(other.model.head.weight, full.model.head.weight)


def test_exact_resume_with_shuffling_dataloader(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(10, 3)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)  # 3 batches a pass
    opts = kw(ckpt_every=4, keep=None)
    full = Trainer(make_model(), noisy_loss, loader, max_steps=8, ckpt_dir=tmp_path / "a", **opts)
    full.fit()
    assert len(list((tmp_path / "a").glob("step_*.safetensors"))) == 2  # steps 4 and 8

    broken = Trainer(
        make_model(),
        interrupting(noisy_loss, 6),
        loader,
        max_steps=8,
        ckpt_dir=tmp_path / "b",
        **opts,
    )
    with pytest.raises(Interrupt):
        broken.fit()
    resumed = Trainer(
        make_model(3), noisy_loss, loader, max_steps=8, ckpt_dir=tmp_path / "b", **opts
    )
    resumed.fit(resume=True)  # resumes mid-pass (step 4 = 2nd batch of pass 1)
    assert_trainers_equal(full, resumed)


def test_checkpoint_dir_rules(tmp_path, capsys):
    d = tmp_path / "run"
    t = Trainer(
        make_model(), noisy_loss, random_batch, max_steps=5, ckpt_dir=d, ckpt_every=1, **kw()
    )
    t.fit()
    assert sorted(p.name for p in d.iterdir()) == [
        "step_00000004.safetensors",
        "step_00000005.safetensors",
    ]
    with pytest.raises(FileExistsError, match="resume=True"):
        Trainer(make_model(), noisy_loss, random_batch, max_steps=5, ckpt_dir=d, **kw()).fit()
    t2 = Trainer(make_model(), noisy_loss, random_batch, max_steps=2, ckpt_dir=d, **kw())
    t2.fit(overwrite=True)
    assert [p.name for p in d.iterdir()] == ["step_00000002.safetensors"]
    # resuming a finished run does nothing more
    t3 = Trainer(make_model(5), noisy_loss, random_batch, max_steps=2, ckpt_dir=d, **kw())
    assert len(t3.fit(resume=True)) == 2
    assert torch.equal(t3.model.head.weight, t2.model.head.weight)
    # resume with an empty folder starts at step 0
    t4 = Trainer(
        make_model(), noisy_loss, random_batch, max_steps=1, ckpt_dir=tmp_path / "new", **kw()
    )
    t4.fit(resume=True)
    assert "starting at step 0" in capsys.readouterr().out
    # the checkpoint is a safetensors file, readable without the trainer
    state, _, meta = ck.load(d / "step_00000002.safetensors")
    assert meta["step"] == 2 and "model.head.weight" in state and "optim.0.exp_avg" in state


def test_resume_with_other_config_is_an_error(tmp_path):
    d = tmp_path / "run"
    Trainer(
        make_model(), noisy_loss, random_batch, max_steps=1, ckpt_dir=d, config={"w": 16}, **kw()
    ).fit()
    t = Trainer(
        make_model(), noisy_loss, random_batch, max_steps=2, ckpt_dir=d, config={"w": 32}, **kw()
    )
    with pytest.raises(ValueError, match="w: expected 16, got 32"):
        t.fit(resume=True)
    t = Trainer(
        make_model(),
        noisy_loss,
        random_batch,
        max_steps=2,
        ckpt_dir=d,
        config={"w": 16},
        **kw(lr=0.5),
    )
    with pytest.warns(RuntimeWarning, match="lr"):
        t.fit(resume=True)


def test_export_loads_into_a_fresh_model(tmp_path):
    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=3, config={"width": 16}, **kw())
    t.fit()
    path = t.export(tmp_path / "w.safetensors")
    fresh = ck.load_into(make_model(1), path, config={"width": 16})
    for p, q in zip(fresh.state_dict().values(), t.ema_state.values(), strict=True):
        assert torch.equal(p, q)
    _, config, meta = ck.load(path)
    assert config == {"width": 16} and meta["steps"] == 3 and meta["ema"] is True


def test_ema_weights_of_a_trainer_checkpoint(tmp_path):
    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=3, ckpt_dir=tmp_path,
                ckpt_every=3, config={"width": 16}, **kw(lr=0.5))  # fmt: skip
    t.fit()
    state, config, meta = ema_weights(latest_checkpoint(tmp_path))
    assert config == {"width": 16} and meta["step"] == 3
    for name, q in t.ema_state.items():  # the EMA, not the raw weights (which differ)
        assert state[name].dtype == torch.float32 and torch.equal(state[name], q.float())
    assert any(not torch.equal(state[k], v) for k, v in t.model.state_dict().items())
    with pytest.raises(ValueError, match="not a trainer checkpoint.*load_into"):
        ema_weights(t.export(tmp_path / "w.safetensors"))
    bare = Trainer(make_model(), noisy_loss, random_batch, max_steps=1, **kw(ema_decay=None))
    bare.fit()
    with pytest.raises(ValueError, match="no EMA weights"):
        ema_weights(bare.save_checkpoint(tmp_path / "bare.safetensors"))


# ---------------------------------------------------------------------------- history


def test_history_as_dict_and_plot():
    t = Trainer(make_model(), noisy_loss, random_batch, max_steps=3, **kw())
    h = t.fit()
    d = h.as_dict()
    assert set(d) == {"step", "loss", "lr", "grad_norm", "time"} and len(d["loss"]) == 3
    d["loss"].clear()
    assert len(h.loss) == 3  # a copy
    ax = h.plot()
    line = ax.get_lines()[0]  # the loss curve, step by step
    assert list(line.get_xdata()) == h.step and list(line.get_ydata()) == h.loss
    assert "3 steps" in repr(h) and repr(History()) == "History(empty)"


def test_history_plot_without_plotting_helper(monkeypatch):
    from tutorial_lib import plotting

    monkeypatch.delattr(plotting, "loss_curves", raising=False)
    h = History()
    for i in range(1, 4):
        h.append(i, 1.0 / i, 0.1, 1.0, 0.01 * i)
    ax = h.plot()
    assert ax.get_xlabel() == "training step" and ax.get_yscale() == "log"
    assert list(ax.lines[0].get_ydata()) == [1.0, 0.5, 1.0 / 3]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"max_steps": 2.5}, TypeError, "max_steps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"ema_decay": 1.0}, ValueError, "ema_decay"),
        ({"ema_decay": -0.1}, ValueError, "ema_decay"),
        ({"grad_clip": 0.0}, ValueError, "grad_clip"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps"),
        ({"decay": "linear"}, ValueError, "decay"),
        ({"decay_steps": 0}, ValueError, "decay_steps"),
        ({"ckpt_every": 5}, ValueError, "ckpt_dir"),
        ({"amp": "bf16"}, ValueError, "CUDA"),
        ({"amp": "fp8"}, ValueError, "amp"),
        ({"seed": -1}, ValueError, "seed"),
        ({"log_every": 0}, ValueError, "log_every"),
        ({"config": {"t": object()}}, TypeError, "config"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = {"max_steps": 3, **kwargs}
    with pytest.raises(error, match=match):
        Trainer(make_model(), noisy_loss, random_batch, progress=False, **args)


def test_bad_model_loss_and_batches():
    with pytest.raises(TypeError, match="model"):
        Trainer("net", noisy_loss, random_batch, max_steps=1)
    with pytest.raises(TypeError, match="loss_fn"):
        Trainer(make_model(), None, random_batch, max_steps=1)
    with pytest.raises(TypeError, match="lambda step: x"):
        Trainer(make_model(), noisy_loss, torch.randn(8, 3), max_steps=1)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            Trainer(make_model(), noisy_loss, random_batch, max_steps=1, device="cuda")
    frozen = make_model().requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        Trainer(frozen, noisy_loss, random_batch, max_steps=1)


@pytest.mark.parametrize(
    ("loss_fn", "error", "match"),
    [
        (lambda m, b: (m(b[0]) - b[1]) ** 2, ValueError, "mean"),
        (lambda m, b: 1.0, TypeError, "scalar torch tensor"),
        (lambda m, b: torch.tensor(1.0), ValueError, "does not depend"),
        (lambda m, b: m(b[0]).mean() * float("nan"), FloatingPointError, "diverged"),
    ],
)
def test_bad_loss(loss_fn, error, match):
    with pytest.raises(error, match=match):
        Trainer(make_model(), loss_fn, random_batch, max_steps=2, progress=False).fit()


def test_one_shot_generator_runs_out():
    gen = (random_batch(i) for i in range(2))
    t = Trainer(make_model(), noisy_loss, gen, max_steps=5, progress=False)
    with pytest.raises(ValueError, match="only once"):
        t.fit()
    assert t.step == 2


def test_resume_needs_ckpt_dir():
    with pytest.raises(ValueError, match="ckpt_dir"):
        Trainer(make_model(), noisy_loss, random_batch, max_steps=1, progress=False).fit(
            resume=True
        )
