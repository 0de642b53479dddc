"""A small 2-D U-Net for images such as mel spectrograms: ``(B, C, H, W), t -> (B, C, H, W)``.

The image version of :class:`~tutorial_lib.models.unet1d.UNet1d`, with the parts every image
diffusion U-Net has (the Audio Diffusion seed uses diffusers' ``UNet2DModel``):

- a residual block per level (GroupNorm, SiLU, 3x3 convolution, twice), with the time
  embedding as a scale and shift (FiLM) between the two convolutions;
- downsampling by 2 in both directions between levels (a strided convolution); on the way up,
  nearest-neighbour upsampling, a convolution, and the encoder's output of the same level
  concatenated (the skip connection);
- self-attention over all positions only at the levels in ``attn_levels`` (the small ones:
  its cost grows as ``(H W)^2``);
- the output convolution starts at zero, so an untrained network predicts 0.

Class conditioning (the Audio Diffusion pipeline's ``encoding`` path, small): pass
``classes=("kick", "snare", ...)`` and the network learns one embedding per class plus a
"no class" one (index ``len(classes)``, label ``-1`` or ``None``), added to the time
embedding; training with some labels dropped gives the unconditional model too, for
classifier-free guidance. Labels follow :meth:`UNet1d.class_index`'s rule.

The time ``t`` in ``[0, 1]`` enters through sinusoidal features of ``1000 t`` (the DDPM step
convention of :mod:`tutorial_lib.samplers`) and an MLP. The network carries a JSON-able
``config`` (``UNet2d(**model.config)`` rebuilds it) for ``tl.checkpoints``.

Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, describe
from .unet1d import _check_classes, _class_index, _groups, _heads, timestep_embedding

__all__ = ["UNet2d"]


class _ResBlock2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in, groups), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out, groups), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return self.skip(x) + h


class _Attention2d(nn.Module):
    def __init__(self, ch: int, heads: int, groups: int) -> None:
        super().__init__()
        self.heads = _heads(heads, ch)
        self.norm = nn.GroupNorm(_groups(ch, groups), ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.out = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (t.transpose(-1, -2) for t in qkv.unbind(1))
        out = F.scaled_dot_product_attention(q, k, v).transpose(-1, -2).reshape(b, c, h, w)
        return x + self.out(out)


class UNet2d(nn.Module):
    """A time- (and class-) conditioned 2-D U-Net: ``model(x (B, C, H, W), t[, labels])``.

    Args:
        in_channels: image channels C (1 for a mel spectrogram).
        channels: channels of each level; ``H`` and ``W`` must be multiples of
            ``2 ** (len(channels) - 1)``.
        blocks: residual blocks per level (on the way down; one more on the way up).
        attn_levels: levels (0 = full size) with self-attention after each block.
        heads: attention heads.
        emb_dim: width of the time embedding (``None``: ``4 * channels[0]``).
        norm_groups: GroupNorm groups (fewer when a width is not divisible).
        classes: class names for class conditioning (``None``: unconditional; then the
            ``config`` has no ``classes`` key, as networks saved before it existed).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        blocks: int = 1,
        attn_levels: Sequence[int] = (2,),
        heads: int = 4,
        emb_dim: int | None = None,
        norm_groups: int = 8,
        classes: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
            raise TypeError(
                f"channels: expected a non-empty list of ints, got {describe(channels)}."
            )
        chs = [check_int(c, f"channels[{i}]", min_value=1) for i, c in enumerate(channels)]
        attn = sorted({check_int(a, "attn_levels[]", min_value=0) for a in attn_levels})
        if attn and attn[-1] >= len(chs):
            raise ValueError(
                f"attn_levels: level {attn[-1]} does not exist; the levels are 0.."
                f"{len(chs) - 1}. Fix: attn_levels=[{len(chs) - 1}]."
            )
        emb_dim = 4 * chs[0] if emb_dim is None else check_int(emb_dim, "emb_dim", min_value=2)
        groups = check_int(norm_groups, "norm_groups", min_value=1)
        classes = _check_classes(classes)
        self.config = {
            "in_channels": check_int(in_channels, "in_channels", min_value=1),
            "channels": chs,
            "blocks": check_int(blocks, "blocks", min_value=1),
            "attn_levels": attn,
            "heads": check_int(heads, "heads", min_value=1),
            "emb_dim": emb_dim,
            "norm_groups": groups,
        }
        if classes is not None:
            self.config["classes"] = classes
        self.classes = classes
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(
            nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.class_emb = None if classes is None else nn.Embedding(len(classes) + 1, emb_dim)
        self.stem = nn.Conv2d(in_channels, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.down_attn = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = chs[0]
        for i, c in enumerate(chs):
            self.down.append(
                nn.ModuleList(
                    _ResBlock2d(c_prev if b == 0 else c, c, emb_dim, groups) for b in range(blocks)
                )
            )
            self.down_attn.append(_Attention2d(c, heads, groups) if i in attn else nn.Identity())
            if i < len(chs) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            c_prev = c
        self.mid = _ResBlock2d(chs[-1], chs[-1], emb_dim, groups)
        self.mid_attn = _Attention2d(chs[-1], heads, groups)
        self.up = nn.ModuleList()
        self.up_attn = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in range(len(chs) - 1, -1, -1):
            c = chs[i]
            c_in = c_prev + c  # the skip connection of this level, concatenated
            self.up.append(
                nn.ModuleList(
                    _ResBlock2d(c_in if b == 0 else c, c, emb_dim, groups) for b in range(blocks)
                )
            )
            self.up_attn.append(_Attention2d(c, heads, groups) if i in attn else nn.Identity())
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
            c_prev = c
        self.norm_out = nn.GroupNorm(_groups(chs[0], groups), chs[0])
        self.out = nn.Conv2d(chs[0], in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def multiple(self) -> int:
        """``H`` and ``W`` must be multiples of this: ``2 ** (levels - 1)``."""
        return 2 ** (len(self.config["channels"]) - 1)

    def num_parameters(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def class_index(self, class_labels: Any, batch: int, device: Any = None) -> torch.Tensor:
        """Labels (``None``, one name/int, or ``batch`` of them; ``-1``: no class) -> ``(B,)``.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        return _class_index(self.classes, class_labels, batch, device)

    def forward(self, x: torch.Tensor, t: Any, class_labels: Any = None) -> torch.Tensor:
        """``x`` (B, C, H, W), ``t`` a number or (B,) in [0, 1] -> (B, C, H, W).

        ``class_labels``: ``None`` (no class), one name/int for the batch, or ``B`` of them
        (a tensor ``(B,)`` too; ``-1``: no class); only for a network built with ``classes``.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4:
            raise ValueError(f"x: expected a float tensor (B, C, H, W), got {describe(x)}.")
        if x.shape[1] != self.config["in_channels"]:
            raise ValueError(
                f"x: expected {self.config['in_channels']} channel(s), got shape {tuple(x.shape)}."
            )
        m = self.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(
                f"x: height and width must be multiples of {m} (2 ** (levels - 1)), got "
                f"{tuple(x.shape[-2:])}. Fix: an image size such as {m * max(1, x.shape[-2] // m)}"
                f" x {m * max(1, x.shape[-1] // m)}, or fewer levels."
            )
        if isinstance(t, bool):
            raise TypeError(f"t: expected a time in [0, 1] or a tensor (B,), got {describe(t)}.")
        tt = torch.as_tensor(t, dtype=torch.float32, device=x.device)
        if tt.ndim == 0:
            tt = tt.expand(x.shape[0])
        if tt.shape != (x.shape[0],):
            raise ValueError(
                f"t: expected a number or a tensor (B,) = ({x.shape[0]},), got {describe(t)}."
            )
        emb = self.time_mlp(timestep_embedding(tt, self.emb_dim))
        idx = self.class_index(class_labels, x.shape[0], x.device)
        if self.class_emb is not None:
            emb = emb + self.class_emb(idx)
        h = self.stem(x)
        skips = []
        for i, (blocks, attn) in enumerate(zip(self.down, self.down_attn, strict=True)):
            for block in blocks:
                h = attn(block(h, emb))
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid_attn(self.mid(h, emb))
        for k, (blocks, attn) in enumerate(zip(self.up, self.up_attn, strict=True)):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = attn(block(h, emb))
            if k < len(self.upsample):
                h = self.upsample[k](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.norm_out(h)))
