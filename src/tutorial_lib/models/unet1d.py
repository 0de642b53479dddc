"""A 1-D U-Net for waveform diffusion: the network of Tiny Audio Diffusion, small enough for a laptop.

The network takes a noisy waveform ``xt`` ``(B, C, T)`` and the diffusion time ``t`` ``(B,)``
in ``[0, 1]`` (and optionally a class label) and returns a tensor of the same shape as ``xt``
(for v-diffusion: the velocity ``v``, see :mod:`tutorial_lib.vdiffusion`). Level by level:

- an optional **input transform** that shortens the signal before the U-Net sees it:
  ``"none"`` (raw audio), ``"patch"`` (chunks of ``transform_factor`` samples become
  channels: ``(B, C, T) -> (B, C * f, T / f)``) or ``"learned"`` (a strided convolution with
  ``transform_kernel`` taps and stride ``transform_factor``, inverted by a transposed one);
- ``len(channels)`` **levels**; level ``i`` works at length ``T' / 2**i`` (``T'`` after the
  transform) with ``channels[i]`` channels and ``blocks`` residual blocks, each conditioned on
  the time (and class) embedding by a scale and shift of its normalised activations
  (FiLM, as in improved DDPM); a strided convolution **halves the length** between levels;
- **self-attention** only at the levels listed in ``attn_levels`` (by default the two lowest
  resolutions), where the sequence is short enough for attention's ``O(L^2)`` cost;
- a middle block (residual, attention, residual) at the lowest level, then the decoder:
  upsample by 2 (nearest neighbour + convolution), concatenate the encoder's skip connection,
  residual blocks (+ attention) per level, and the inverse transform.

Class conditioning: pass ``classes=("kick", "snare", ...)``; the model learns one embedding per
class plus a "no class" embedding (index ``len(classes)``) used for unconditional samples and
classifier-free guidance. Labels may be ints or class names; unknown ones are rejected.

``model.config`` is the JSON-able dict of constructor arguments, so
``UNet1d(**model.config)`` rebuilds the architecture (the checkpoints store it).

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_choice, check_int, describe

__all__ = [
    "UNet1d",
    "activation_memory",
    "level_shapes",
    "timestep_embedding",
]

_TRANSFORMS = ("none", "patch", "learned")


def timestep_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of the diffusion time: ``t`` ``(B,)`` in ``[0, 1]`` -> ``(B, dim)``.

    Uses ``1000 * t`` as the position (so the frequencies match DDPM's integer steps).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = 1000.0 * t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _check_classes(classes: Any) -> list[str] | None:
    """``classes`` as a list of unique names (``None`` stays ``None``), or a ``ValueError``."""
    if classes is None:
        return None
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise ValueError(f"classes: expected a non-empty list of class names, got {classes!r}.")
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes: names must be unique, got {classes}.")
    return classes


def _class_index(
    classes: list[str] | None, class_labels: Any, batch: int, device: Any = None
) -> torch.Tensor:
    """Class labels -> embedding indices ``(B,)`` for a network with ``classes`` (one rule for
    every conditional network of the library: see :meth:`UNet1d.class_index`)."""
    if classes is None:
        if class_labels is not None:
            raise ValueError(
                "class_labels: this model is unconditional (classes=None), but labels were "
                "given. Fix: drop class_labels, or build the model with classes=[...]."
            )
        return torch.zeros(batch, dtype=torch.long, device=device)
    k = len(classes)
    if class_labels is None:
        return torch.full((batch,), k, dtype=torch.long, device=device)
    if isinstance(class_labels, (str, int)):
        class_labels = [class_labels] * batch
    if torch.is_tensor(class_labels):
        idx = class_labels.to(device=device, dtype=torch.long).reshape(-1)
    else:
        out = []
        for c in class_labels:
            if isinstance(c, str):
                if c not in classes:
                    raise ValueError(
                        f"class_labels: unknown class {c!r}. This model knows "
                        f"{classes}. Fix: use one of them (or None: no class)."
                    )
                out.append(classes.index(c))
            else:
                out.append(int(c))
        idx = torch.tensor(out, dtype=torch.long, device=device)
    if idx.numel() != batch:
        raise ValueError(f"class_labels: expected one label per clip ({batch}), got {idx.numel()}.")
    # checked on the CPU only: reading a GPU tensor back would stall every training step
    # (labels made on the CPU, as every tl.data set's, are checked before they move)
    bad = (idx < -1) | (idx >= k)
    if idx.device.type == "cpu" and bool(bad.any()):
        raise ValueError(
            f"class_labels: labels must be in [0, {k}) (or -1: no class) for classes "
            f"{classes}, got {idx[bad].tolist()[:5]}."
        )
    return torch.where(idx < 0, torch.full_like(idx, k), idx)


def _groups(ch: int, norm_groups: int) -> int:
    """The most GroupNorm groups, at most ``norm_groups``, that divide ``ch``."""
    g = min(norm_groups, ch)
    while ch % g:
        g -= 1
    return g


def _heads(heads: int, ch: int) -> int:
    """The most attention heads, at most ``heads``, that divide ``ch``."""
    h = max(1, min(heads, ch))
    while ch % h:
        h -= 1
    return h


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv, FiLM by the embedding, GroupNorm-SiLU-Conv, plus a skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, kernel_size: int, groups: int):
        super().__init__()
        pad = kernel_size // 2
        self.norm1 = nn.GroupNorm(_groups(c_in, groups), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=pad)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out, groups), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class _Attention(nn.Module):
    """Multi-head self-attention over time (pre-norm, residual, output projection zeroed)."""

    def __init__(self, ch: int, heads: int, groups: int):
        super().__init__()
        self.heads = _heads(heads, ch)
        self.norm = nn.GroupNorm(_groups(ch, groups), ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.out = nn.Conv1d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, n = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, n).unbind(1)
        h = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.out(h.transpose(-1, -2).reshape(b, c, n))


class _Level(nn.Module):
    """The blocks of one level (residual blocks, each optionally followed by attention)."""

    def __init__(self, c_in, c_out, n_blocks, emb_dim, kernel_size, groups, attn, heads):
        super().__init__()
        self.res = nn.ModuleList(
            _ResBlock(c_in if i == 0 else c_out, c_out, emb_dim, kernel_size, groups)
            for i in range(n_blocks)
        )
        self.attn = nn.ModuleList(
            _Attention(c_out, heads, groups) if attn else nn.Identity() for _ in range(n_blocks)
        )
        self.checkpointing = False

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for res, attn in zip(self.res, self.attn, strict=True):
            if self.checkpointing and self.training and torch.is_grad_enabled():
                from torch.utils.checkpoint import checkpoint

                x = checkpoint(res, x, emb, use_reentrant=False)
            else:
                x = res(x, emb)
            if isinstance(attn, _Attention):
                x = attn(x)
        return x


class UNet1d(nn.Module):
    """A 1-D U-Net ``(xt (B, C, T), t (B,)[, class_labels]) -> (B, C, T)`` for waveforms.

    Args:
        in_channels: audio channels C (1 mono, 2 stereo).
        channels: width of each level, e.g. ``(16, 32, 64, 64, 128)``; the length halves
            between consecutive levels, so there are ``len(channels) - 1`` downsamplings.
        blocks: residual blocks per level (an int, or one int per level).
        attn_levels: indices of the levels with self-attention (``None``: the two lowest
            resolutions; ``()``: none).
        heads: attention heads.
        kernel_size: odd kernel size of the residual blocks' convolutions.
        emb_dim: width of the time/class embedding (``None``: ``4 * channels[0]``).
        norm_groups: GroupNorm groups (reduced to a divisor of each width).
        classes: class names for class conditioning (``None``: unconditional).
        transform: ``"none"``, ``"patch"`` or ``"learned"`` (see the module docstring).
        transform_factor: how much the transform shortens the signal (1 for ``"none"``).
        transform_kernel: kernel size of the ``"learned"`` transform (>= ``transform_factor``,
            and ``transform_kernel - transform_factor`` even), e.g. 16, 32 or 64.

    ``T`` must be a multiple of ``transform_factor * 2 ** (len(channels) - 1)`` (see
    :attr:`multiple`); otherwise ``forward`` raises a ``ValueError`` saying how to pad
    (``tl.audio.fix_length``). The output of a fresh model is exactly 0 (the last convolution
    starts at zero), a standard choice that makes early training stable.

    Attributes:
        config: the constructor arguments as a JSON-able dict.
        multiple: the length multiple ``T`` must have.
        gradient_checkpointing: recompute the residual blocks' activations in the backward
            pass instead of storing them (less memory, ~30 % more compute); off by default.

    Example::

        net = UNet1d(channels=(16, 32, 64), classes=("kick", "snare"))
        v = net(torch.randn(4, 1, 8192), torch.rand(4), ["kick", "snare", "kick", "snare"])

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 32, 64, 64, 128),
        blocks: int | Sequence[int] = 1,
        attn_levels: Sequence[int] | None = None,
        heads: int = 4,
        kernel_size: int = 5,
        emb_dim: int | None = None,
        norm_groups: int = 8,
        classes: Sequence[str] | None = None,
        transform: str = "none",
        transform_factor: int = 1,
        transform_kernel: int | None = None,
    ) -> None:
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        if isinstance(channels, (int, str)) or len(channels) == 0:
            raise ValueError(
                f"channels: expected a non-empty list of level widths, e.g. (16, 32, 64), "
                f"got {describe(channels)}."
            )
        channels = [check_int(c, "channels", min_value=1) for c in channels]
        n_levels = len(channels)
        if isinstance(blocks, int):
            blocks = [blocks] * n_levels
        blocks = [check_int(b, "blocks", min_value=1) for b in blocks]
        if len(blocks) != n_levels:
            raise ValueError(
                f"blocks: expected an int or {n_levels} ints (one per level), got {len(blocks)}."
            )
        if attn_levels is None:
            attn_levels = [i for i in range(n_levels) if i >= n_levels - 2 and n_levels > 1]
        attn_levels = sorted({check_int(a, "attn_levels", min_value=0) for a in attn_levels})
        if attn_levels and attn_levels[-1] >= n_levels:
            raise ValueError(
                f"attn_levels: level indices must be < {n_levels} (the number of levels), "
                f"got {attn_levels}."
            )
        heads = check_int(heads, "heads", min_value=1)
        kernel_size = check_int(kernel_size, "kernel_size", min_value=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd size (keeps T), got {kernel_size}.")
        emb_dim = 4 * channels[0] if emb_dim is None else check_int(emb_dim, "emb_dim", min_value=2)
        norm_groups = check_int(norm_groups, "norm_groups", min_value=1)
        classes = _check_classes(classes)
        check_choice(transform, "transform", _TRANSFORMS)
        transform_factor = check_int(transform_factor, "transform_factor", min_value=1)
        if transform == "none" and transform_factor != 1:
            raise ValueError(
                f"transform_factor: must be 1 with transform='none', got {transform_factor}. "
                f"Fix: transform='patch' or 'learned'."
            )
        if transform == "learned":
            if transform_kernel is None:
                transform_kernel = 2 * transform_factor
            transform_kernel = check_int(
                transform_kernel, "transform_kernel", min_value=transform_factor
            )
            if (transform_kernel - transform_factor) % 2:
                raise ValueError(
                    f"transform_kernel: transform_kernel - transform_factor must be even, got "
                    f"{transform_kernel} - {transform_factor}. Fix: e.g. kernel 16, 32 or 64 "
                    f"with factor 8."
                )
        elif transform_kernel is not None:
            raise ValueError(
                f"transform_kernel: only used with transform='learned', got {transform_kernel} "
                f"with transform={transform!r}. Fix: transform_kernel=None."
            )

        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "channels": list(channels),
            "blocks": list(blocks),
            "attn_levels": list(attn_levels),
            "heads": heads,
            "kernel_size": kernel_size,
            "emb_dim": emb_dim,
            "norm_groups": norm_groups,
            "classes": None if classes is None else list(classes),
            "transform": transform,
            "transform_factor": transform_factor,
            "transform_kernel": transform_kernel,
        }
        self.classes = None if classes is None else list(classes)
        self.multiple = transform_factor * 2 ** (n_levels - 1)
        self._emb_dim = emb_dim

        # -- input/output transform ------------------------------------------------------------
        f = transform_factor
        if transform == "learned":
            pad = (transform_kernel - f) // 2
            inner = in_channels * f
            self.encode = nn.Conv1d(in_channels, inner, transform_kernel, stride=f, padding=pad)
            self.decode = nn.ConvTranspose1d(
                inner, in_channels, transform_kernel, stride=f, padding=pad
            )
        else:
            inner = in_channels * f
        self.time_mlp = nn.Sequential(
            nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.class_emb = None if classes is None else nn.Embedding(len(classes) + 1, emb_dim)

        ks = kernel_size
        self.stem = nn.Conv1d(inner, channels[0], ks, padding=ks // 2)
        self.down_levels = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        skip_ch = []
        c_prev = channels[0]
        for i, c in enumerate(channels):
            self.down_levels.append(
                _Level(c_prev, c, blocks[i], emb_dim, ks, norm_groups, i in attn_levels, heads)
            )
            skip_ch.append(c)
            c_prev = c
            if i < n_levels - 1:
                self.downsamples.append(nn.Conv1d(c, c, 4, stride=2, padding=1))
        self.mid = _Level(c_prev, c_prev, 2, emb_dim, ks, norm_groups, True, heads)
        self.mid.attn[1] = nn.Identity()  # res, attn, res
        self.up_levels = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for i in reversed(range(n_levels)):
            c = channels[i]
            self.up_levels.append(
                _Level(c_prev + skip_ch[i], c, blocks[i], emb_dim, ks, norm_groups,
                       i in attn_levels, heads)
            )  # fmt: skip
            c_prev = c
            if i > 0:
                self.upsamples.append(nn.Conv1d(c, channels[i - 1], 3, padding=1))
                c_prev = channels[i - 1]
        self.out_norm = nn.GroupNorm(_groups(c_prev, norm_groups), c_prev)
        self.out_conv = nn.Conv1d(c_prev, inner, ks, padding=ks // 2)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    # -- conveniences --------------------------------------------------------------------------
    @property
    def gradient_checkpointing(self) -> bool:
        """Whether residual blocks recompute their activations in the backward pass.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        return self.mid.checkpointing

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, value: bool) -> None:
        for m in self.modules():
            if isinstance(m, _Level):
                m.checkpointing = bool(value)

    def num_parameters(self) -> int:
        """Number of parameters.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        return sum(p.numel() for p in self.parameters())

    def class_index(self, class_labels: Any, batch: int, device: Any = None) -> torch.Tensor:
        """Labels (``None``, one name/int, or a sequence/tensor of ``batch`` of them) -> ``(B,)``.

        ``None`` (or the label ``-1``) means "no class" (index ``len(classes)``). Unknown
        names, out-of-range ints, and labels on an unconditional model raise ``ValueError``.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        return _class_index(self.classes, class_labels, batch, device)

    def check_length(self, length: int) -> None:
        """Raise a ``ValueError`` with the fix unless ``length`` is a multiple of :attr:`multiple`.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        if length % self.multiple:
            up = -(-length // self.multiple) * self.multiple
            raise ValueError(
                f"xt: length T={length} is not a multiple of {self.multiple} (= transform_factor "
                f"{self.config['transform_factor']} x 2**{len(self.config['channels']) - 1} "
                f"downsamplings), so the skip connections would not line up. Fix: pad or cut "
                f"the audio, e.g. tl.audio.fix_length(x, {up}) or {up - self.multiple}."
            )

    # -- the network -------------------------------------------------------------------------
    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        f = self.config["transform_factor"]
        if self.config["transform"] == "learned":
            return self.encode(x)
        if f == 1:
            return x
        b, c, t = x.shape  # patch: (B, C, T) -> (B, C * f, T / f); channel c*f + j = offset j
        return x.reshape(b, c, t // f, f).permute(0, 1, 3, 2).reshape(b, c * f, t // f)

    def _decode(self, h: torch.Tensor) -> torch.Tensor:
        f = self.config["transform_factor"]
        if self.config["transform"] == "learned":
            return self.decode(h)
        if f == 1:
            return h
        b, cf, n = h.shape
        c = cf // f
        return h.reshape(b, c, f, n).permute(0, 1, 3, 2).reshape(b, c, n * f)

    def embedding(self, t: torch.Tensor, class_labels: Any = None) -> torch.Tensor:
        """The conditioning vector ``(B, emb_dim)`` from ``t`` ``(B,)`` and the labels.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        emb = self.time_mlp(timestep_embedding(t, self._emb_dim))
        if self.class_emb is not None:
            emb = emb + self.class_emb(self.class_index(class_labels, t.shape[0], t.device))
        else:
            self.class_index(class_labels, t.shape[0])
        return emb

    def forward(
        self, xt: torch.Tensor, t: torch.Tensor | float, class_labels: Any = None
    ) -> torch.Tensor:
        """Predict the network target (``v`` for v-diffusion) for noisy audio ``xt``.

        Args:
            xt: ``(B, C, T)`` noisy audio, ``T`` a multiple of :attr:`multiple`.
            t: diffusion time in ``[0, 1]``, a float or a tensor ``(B,)``.
            class_labels: ``None`` (no class), a class name or int for the whole batch, or
                ``B`` names/ints (or a tensor ``(B,)``; ``-1``: no class).

        Returns:
            ``(B, C, T)``.

        Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
        """
        if not torch.is_tensor(xt) or xt.ndim != 3 or xt.shape[1] != self.config["in_channels"]:
            raise ValueError(
                f"xt: expected a tensor (B, {self.config['in_channels']}, T), got {describe(xt)}."
            )
        self.check_length(xt.shape[-1])
        b = xt.shape[0]
        if not torch.is_tensor(t):
            t = torch.full((b,), float(t), device=xt.device)
        t = t.to(xt.device).reshape(-1)
        if t.numel() == 1 and b > 1:
            t = t.expand(b)
        if t.numel() != b:
            raise ValueError(f"t: expected {b} times (one per clip), got {describe(t)}.")
        emb = self.embedding(t, class_labels)
        h = self.stem(self._encode(xt))
        skips = []
        for i, level in enumerate(self.down_levels):
            h = level(h, emb)
            skips.append(h)
            if i < len(self.downsamples):
                h = self.downsamples[i](h)
        h = self.mid(h, emb)
        for j, level in enumerate(self.up_levels):
            h = level(torch.cat([h, skips.pop()], dim=1), emb)
            if j < len(self.upsamples):
                h = self.upsamples[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self._decode(self.out_conv(F.silu(self.out_norm(h))))

    def extra_repr(self) -> str:
        return f"config={self.config}, parameters={self.num_parameters():,}"


def level_shapes(model: UNet1d, length: int, *, batch: int = 1) -> list[dict[str, Any]]:
    """Shapes inside ``model`` for an input ``(batch, C, length)``: one row per level.

    Returns a list of ``{"level": i, "length": samples at that level, "channels": width,
    "seconds_per_step": ..., "attention": bool, "shape": (B, ch, L)}`` for the encoder side
    (the decoder mirrors it). Pure arithmetic, no forward pass.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    length = check_int(length, "length", min_value=1)
    model.check_length(length)
    cfg = model.config
    n = length // cfg["transform_factor"]
    rows = []
    for i, c in enumerate(cfg["channels"]):
        ln = n // 2**i
        rows.append(
            {
                "level": i,
                "length": ln,
                "channels": c,
                "samples_per_step": length // ln,
                "attention": i in cfg["attn_levels"],
                "shape": (batch, c, ln),
            }
        )
    return rows


def activation_memory(
    model: UNet1d, length: int, *, batch: int = 1, class_labels: Any = None
) -> dict[str, int]:
    """Bytes of activations saved for the backward pass, per level, measured exactly.

    Runs one forward pass of ``(batch, C, length)`` noise with gradients enabled and adds up
    the tensors autograd keeps for the backward pass (``torch.autograd.graph.
    saved_tensors_hooks``, each storage counted once), attributing each to the level whose
    module saved it (``"level 0"``..., ``"middle"``, ``"other"``: stem, transform, output).
    Decoder levels count towards the level of the same resolution.

    Returns:
        ``{"level 0": bytes, ..., "middle": bytes, "other": bytes, "total": bytes}``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    length = check_int(length, "length", min_value=1)
    batch = check_int(batch, "batch", min_value=1)
    model.check_length(length)
    n_levels = len(model.config["channels"])
    names = [f"level {i}" for i in range(n_levels)]
    owner: dict[nn.Module, str] = {}
    for i, lvl in enumerate(model.down_levels):
        owner[lvl] = names[i]
    for j, lvl in enumerate(model.up_levels):
        owner[lvl] = names[n_levels - 1 - j]
    for i, m in enumerate(model.downsamples):
        owner[m] = names[i]
    for j, m in enumerate(model.upsamples):
        owner[m] = names[n_levels - 2 - j]
    owner[model.mid] = "middle"
    current = ["other"]
    totals = {name: 0 for name in [*names, "middle", "other"]}
    seen: set[int] = set()

    def pre(mod, _inp):
        current.append(owner[mod])

    def post(mod, _inp, _out):
        current.pop()

    handles = [m.register_forward_pre_hook(pre) for m in owner]
    handles += [m.register_forward_hook(post) for m in owner]

    def pack(x: torch.Tensor) -> torch.Tensor:
        key = x.untyped_storage().data_ptr()
        if key not in seen and not isinstance(x, nn.Parameter):
            seen.add(key)
            totals[current[-1]] += x.untyped_storage().nbytes()
        return x

    device = next(model.parameters()).device
    x = torch.randn(batch, model.config["in_channels"], length, device=device)
    t = torch.rand(batch, device=device)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen |= params
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            out = model(x, t, class_labels)
        del out
    finally:
        for h in handles:
            h.remove()
    totals["total"] = sum(totals.values())
    return totals
