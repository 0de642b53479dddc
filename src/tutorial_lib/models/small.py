"""Small time-conditioned networks: quick to train on a CPU, enough to compare objectives.

- :class:`TimeEmbedding`: sinusoidal features of a time ``t`` in [0, 1], then a small MLP.
- :class:`TimeMLP`: points ``(B, dim)`` -> ``(B, dim)``, for 2-D toy distributions.
- :class:`SmallConv1d`: short mono or stereo audio ``(B, C, T)`` -> ``(B, C, T)``, a compact
  1-D U-Net (strided convolutions down, transposed convolutions up, skip connections,
  time-conditioned residual blocks).

Both are called as ``model(x_t, t)`` with ``t`` a float tensor (B,) (or a number) of times in
[0, 1], the convention of :mod:`tutorial_lib.objectives` and :mod:`tutorial_lib.samplers`, and
both carry a JSON-able ``config`` dict (``type(model)(**model.config)`` rebuilds them), which
``tl.checkpoints`` stores with the weights.

Chapter 2 trains :class:`SmallConv1d` on drum hits: that family (data, recipe, checkpoints,
sampler) is :mod:`tutorial_lib.families.drums_small`.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._validate import check_int, check_number, describe

__all__ = ["SmallConv1d", "TimeEmbedding", "TimeMLP"]


def _time_vector(t: Any, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a number, or a tensor () or (B,)) as a float tensor (B,) on ``x``'s device."""
    if isinstance(t, bool):
        raise TypeError(f"t: expected a time in [0, 1] or a tensor (B,), got {describe(t)}.")
    tt = torch.as_tensor(t, dtype=x.dtype if x.is_floating_point() else torch.float32)
    tt = tt.to(x.device)
    if tt.ndim == 0:
        tt = tt.expand(x.shape[0])
    if tt.ndim != 1 or tt.shape[0] != x.shape[0]:
        raise ValueError(
            f"t: expected a number or a tensor of shape (B,) = ({x.shape[0]},), got {describe(t)}."
        )
    return tt


def _check_input(x: Any, ndim: int, shape: str) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x: expected a float tensor of shape {shape}, got {describe(x)}.")
    if x.ndim != ndim:
        raise ValueError(f"x: expected a tensor of shape {shape}, got {describe(x)}.")


class TimeEmbedding(nn.Module):
    """Embed times ``t`` in [0, 1] as sinusoids of ``scale * t``, then a 2-layer MLP.

    Args:
        dim: output size (even).
        scale: ``t`` is multiplied by this before the sinusoids (1000: one unit per DDPM step).

    Input ``t`` (B,), output (B, dim).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    def __init__(self, dim: int = 64, scale: float = 1000.0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", min_value=2)
        if self.dim % 2:
            raise ValueError(f"dim: expected an even number, got {dim}. Fix: dim={dim + 1}.")
        self.scale = check_number(scale, "scale", low=0.0, low_open=True)
        half = self.dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) times -> (B, dim) features."""
        arg = self.scale * t.float()[:, None] * self.freqs[None, :]
        return self.mlp(torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1))


class TimeMLP(nn.Module):
    """A time-conditioned MLP for points: ``(B, dim), t -> (B, dim)``.

    Each hidden layer adds a projection of the time embedding before its SiLU.

    Args:
        dim: size of a point (2 for the 2-D toys).
        hidden: width of the hidden layers.
        depth: number of hidden layers (>= 1).
        time_dim: size of the time embedding.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 32) -> None:
        super().__init__()
        self.config = {
            "dim": check_int(dim, "dim", min_value=1),
            "hidden": check_int(hidden, "hidden", min_value=1),
            "depth": check_int(depth, "depth", min_value=1),
            "time_dim": check_int(time_dim, "time_dim", min_value=2),
        }
        self.time = TimeEmbedding(time_dim)
        self.inp = nn.Linear(dim, hidden)
        self.t_proj = nn.ModuleList(nn.Linear(time_dim, hidden) for _ in range(depth))
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """``x`` (B, dim), ``t`` a number or (B,) in [0, 1] -> (B, dim)."""
        _check_input(x, 2, f"(B, dim) = (B, {self.config['dim']})")
        if x.shape[1] != self.config["dim"]:
            raise ValueError(f"x: expected points of size {self.config['dim']}, got {x.shape[1]}.")
        emb = self.time(_time_vector(t, x))
        h = self.inp(x)
        for layer, proj in zip(self.layers, self.t_proj, strict=True):
            h = layer(torch.nn.functional.silu(h + proj(emb)))
        return self.out(torch.nn.functional.silu(h))


def _groups(ch: int) -> int:
    for g in (8, 4, 2, 1):
        if ch % g == 0:
            return g
    return 1


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv twice, with the time embedding as a FiLM (scale, shift) between."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=pad)
        self.film = nn.Linear(time_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.nn.functional.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(torch.nn.functional.silu(h))
        return h + self.skip(x)


class SmallConv1d(nn.Module):
    """A compact time-conditioned 1-D U-Net for short audio: ``(B, C, T), t -> (B, C, T)``.

    The waveform is first cut into overlapping patches of ``patch`` samples (a strided
    convolution), so the U-Net runs on ``T / patch`` frames, and the last layer (a transposed
    convolution) turns frames back into samples.

    Level ``i`` has ``width * mults[i]`` channels; between levels the time axis shrinks by
    ``factor`` (strided convolution) and grows back on the way up (transposed convolution),
    with a skip connection from each level down to its level up. Every level has one residual
    block conditioned on the time (FiLM); the output layer starts at zero, so an untrained
    network predicts 0.

    Args:
        channels: audio channels C (1 mono, 2 stereo).
        width: channels of the first level.
        mults: channel multiplier of each level (its length is the number of levels).
        factor: down-sampling factor between levels; ``T`` must be divisible by
            ``patch * factor ** (len(mults) - 1)``.
        kernel_size: odd kernel size of the convolutions in the residual blocks.
        time_dim: size of the time embedding.
        patch: the first layer turns each ``patch`` samples into one frame (a strided
            convolution over ``2 * patch`` samples) and the last layer turns frames back into
            samples (a transposed convolution): the network works on ``T / patch`` frames,
            which makes it ``patch`` times cheaper. ``1``: no patches.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    def __init__(
        self,
        channels: int = 1,
        width: int = 32,
        mults: Sequence[int] = (1, 2, 2, 4),
        factor: int = 4,
        kernel_size: int = 5,
        time_dim: int = 64,
        patch: int = 8,
    ) -> None:
        super().__init__()
        if isinstance(mults, (str, bytes)) or not isinstance(mults, Sequence) or not mults:
            raise TypeError(f"mults: expected a non-empty list of ints, got {describe(mults)}.")
        mults = [check_int(m, f"mults[{i}]", min_value=1) for i, m in enumerate(mults)]
        kernel_size = check_int(kernel_size, "kernel_size", min_value=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd number, got {kernel_size}.")
        self.config = {
            "channels": check_int(channels, "channels", min_value=1),
            "width": check_int(width, "width", min_value=1),
            "mults": mults,
            "factor": check_int(factor, "factor", min_value=2),
            "kernel_size": kernel_size,
            "time_dim": check_int(time_dim, "time_dim", min_value=2),
            "patch": check_int(patch, "patch", min_value=1),
        }
        chs = [width * m for m in mults]
        self.time = TimeEmbedding(time_dim)
        if patch == 1:
            self.stem = nn.Conv1d(channels, chs[0], kernel_size, padding=kernel_size // 2)
            self.out = nn.Conv1d(chs[0], channels, kernel_size, padding=kernel_size // 2)
        else:  # overlapping patches: T -> T / patch frames, and back
            self.stem = nn.Conv1d(channels, chs[0], 2 * patch, stride=patch, padding=patch // 2)
            self.out = nn.ConvTranspose1d(
                chs[0], channels, 2 * patch, stride=patch, padding=patch // 2
            )
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        c_prev = chs[0]
        for i, c in enumerate(chs):
            self.down_blocks.append(_ResBlock(c_prev, c, time_dim, kernel_size))
            if i < len(chs) - 1:
                self.downs.append(nn.Conv1d(c, c, 2 * factor, stride=factor, padding=factor // 2))
            c_prev = c
        self.mid = _ResBlock(chs[-1], chs[-1], time_dim, kernel_size)
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in range(len(chs) - 2, -1, -1):
            self.ups.append(
                nn.ConvTranspose1d(
                    chs[i + 1], chs[i], 2 * factor, stride=factor, padding=factor // 2
                )
            )
            self.up_blocks.append(_ResBlock(2 * chs[i], chs[i], time_dim, kernel_size))
        self.norm_out = nn.GroupNorm(_groups(chs[0]), chs[0])
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def hop(self) -> int:
        """``T`` must be a multiple of this: ``patch * factor ** (levels - 1)``."""
        return self.config["patch"] * self.config["factor"] ** (len(self.config["mults"]) - 1)

    def forward(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """``x`` (B, C, T), ``t`` a number or (B,) in [0, 1] -> (B, C, T)."""
        _check_input(x, 3, f"(B, C, T) with C = {self.config['channels']}")
        if x.shape[1] != self.config["channels"]:
            raise ValueError(
                f"x: expected {self.config['channels']} channel(s), got shape {tuple(x.shape)}."
            )
        if x.shape[-1] % self.hop:
            raise ValueError(
                f"x: the length T = {x.shape[-1]} must be a multiple of {self.hop} "
                f"(patch * factor ** (levels - 1)). Fix: tl.audio.fix_length(x, "
                f"{math.ceil(x.shape[-1] / self.hop) * self.hop})."
            )
        emb = self.time(_time_vector(t, x))
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down_blocks):
            h = block(h, emb)
            if i < len(self.downs):
                skips.append(h)
                h = self.downs[i](h)
        h = self.mid(h, emb)
        for up, block in zip(self.ups, self.up_blocks, strict=True):
            h = up(h)
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(torch.nn.functional.silu(self.norm_out(h)))
