"""Spectrogram Diffusion's network, small: two encoders and a FiLM-conditioned denoiser.

Hawthorne et al. (2022) condition a T5-style transformer decoder, which denoises a segment of
mel frames, on two encoders:

- the **notes encoder** reads the segment's tokens (:mod:`tutorial_lib.tokens`);
- the **context encoder** reads the previous segment's mel frames (the model's own output at
  generation time), so segments join up.

The decoder's inputs are the noisy frames; each layer is self-attention, cross-attention to
the two encodings (concatenated), and a feed-forward block; the noise level enters through
FiLM (a scale and shift of the normalised activations, computed from the time embedding)
before self-attention and before the feed-forward block. The output is what the training
objective asks for: the noise (epsilon) in the original, the clean frames in chapter 6's
recipe (``tl.families.midi_synth.PREDICTION``).

One addition to the original, optional (``roll``): the same notes laid out on the frame grid
(:func:`tutorial_lib.tokens.roll`, a piano roll of sounding notes, onsets and drum hits),
projected to the model width and added to the decoder's input frames, so that each frame is
told which notes sound at its time instead of having to find them by cross-attention.

Classifier-free guidance drops notes *and* context together: :meth:`NoteDecoder.forward` with
``drop`` set (or ``tokens=None, context=None``) replaces both encodings by zeros, so the
unconditional path is one network call (the roll is dropped with the notes).

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import tokens as tk
from .._validate import check_int, describe

__all__ = ["FiLM", "DecoderLayer", "NoteDecoder", "sinusoidal", "sinusoidal_at"]


def sinusoidal(n: int, dim: int, *, device: Any = None) -> torch.Tensor:
    """Fixed sinusoidal position encodings ``(n, dim)`` (Vaswani et al. 2017)."""
    return sinusoidal_at(torch.arange(n, device=device, dtype=torch.float32), dim)


def sinusoidal_at(pos: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encodings of real-valued positions: ``(...,) -> (..., dim)``."""
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, device=pos.device).float() / dim)
    arg = pos.float()[..., None] * freq
    out = torch.zeros(*pos.shape, dim, device=pos.device)
    out[..., 0::2] = torch.sin(arg)
    out[..., 1::2] = torch.cos(arg[..., : dim // 2])
    return out


class FiLM(nn.Module):
    """Feature-wise linear modulation (Perez et al. 2018): ``x * (1 + scale) + shift``."""

    def __init__(self, cond_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * dim)
        nn.init.zeros_(self.proj.weight)  # starts as the identity
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(cond)[:, None].chunk(2, dim=-1)
        return x * (1 + scale) + shift


class DecoderLayer(nn.Module):
    """Self-attention and feed-forward with FiLM on the noise level; cross-attention."""

    def __init__(self, dim: int, heads: int, ff: int, cond_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.film1 = nn.LayerNorm(dim), FiLM(cond_dim, dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm3, self.film3 = nn.LayerNorm(dim), FiLM(cond_dim, dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        h = self.film1(self.norm1(x), cond)
        x = x + self.drop(self.self_attn(h, h, h, need_weights=False)[0])
        h = self.norm2(x)
        x = x + self.drop(
            self.cross_attn(h, memory, memory, key_padding_mask=mask, need_weights=False)[0]
        )
        return x + self.drop(self.ff(self.film3(self.norm3(x), cond)))


def _encoder(dim: int, heads: int, ff: int, layers: int, dropout: float) -> nn.Module:
    layer = nn.TransformerEncoderLayer(
        dim, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)


class NoteDecoder(nn.Module):
    """Notes encoder + context encoder + denoising decoder over mel frames.

    Args:
        vocab_size: number of token ids (``tl.tokens.Vocabulary().size``).
        n_mels: mel bands per frame.
        frames: frames per segment (the decoder's and context's length).
        dim, heads, ff: transformer width, attention heads, feed-forward width.
        enc_layers, ctx_layers, dec_layers: depth of the notes encoder, the context encoder,
            the decoder. ``ctx_layers=0`` builds a model **without a context encoder** (for the
            ablation): only the notes condition it.
        dropout: dropout inside the transformers.
        time_tokens: ``(first id, count)`` of the ``shift`` tokens
            (``Vocabulary().ranges["shift"]``), or ``None``. When given, every token also gets
            the sinusoidal encoding of its *event time* (the last shift before it, in frames:
            shift steps / ``steps_per_frame``), the same encoding the decoder's frames get for
            their position, so cross-attention can match a frame to the notes at its time.
            The original relies on sequence positions alone. Tried for chapter 6, it did not
            help at the chapter's CPU budget; the piano roll (``roll``) did.
        steps_per_frame: shift steps per frame (10 ms steps, 20 ms frames: 2).
        roll: ``None`` (the original: the notes enter by cross-attention only) or the
            settings of the tokens' :class:`~tutorial_lib.tokens.Vocabulary` (a dict, e.g.
            ``dataclasses.asdict(vocab)``): the decoder then also reads the piano roll of
            the segment's tokens (:func:`tutorial_lib.tokens.roll`), one row per frame,
            through a linear layer added to its input.

    ``forward(x, t, tokens, context, drop=None)``: ``x`` noisy frames ``(B, frames, n_mels)``,
    ``t`` times in [0, 1] ``(B,)``, ``tokens`` ``(B, L)`` int (0 = padding), ``context``
    ``(B, frames, n_mels)``; ``drop`` ``(B,)`` bool drops both conditions of those rows.
    With ``roll`` set, the piano roll is computed from ``tokens`` (on the CPU), or given as
    ``roll=`` ``(B, frames, 384)`` (a data loader can make it ahead).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """

    def __init__(
        self,
        vocab_size: int,
        n_mels: int = 128,
        frames: int = 64,
        dim: int = 128,
        heads: int = 4,
        ff: int = 512,
        enc_layers: int = 2,
        ctx_layers: int = 2,
        dec_layers: int = 3,
        dropout: float = 0.1,
        time_tokens: tuple[int, int] | list[int] | None = None,
        steps_per_frame: float = 2.0,
        roll: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", min_value=4)
        self.n_mels = check_int(n_mels, "n_mels", min_value=1)
        self.frames = check_int(frames, "frames", min_value=1)
        self.dim = check_int(dim, "dim", min_value=8)
        if dim % heads:
            raise ValueError(f"heads: must divide dim={dim}, got {heads}.")
        self.has_context = check_int(ctx_layers, "ctx_layers", min_value=0) > 0
        self.time_tokens = (
            None if time_tokens is None else (int(time_tokens[0]), int(time_tokens[1]))
        )
        self.steps_per_frame = float(steps_per_frame)
        if roll is not None and not isinstance(roll, dict):
            raise TypeError(
                f"roll: expected None or the Vocabulary's settings as a dict, got {describe(roll)}."
            )
        self.roll_vocab = None if roll is None else tk.Vocabulary(**roll)
        cond = dim
        self.token_emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.notes_encoder = _encoder(
            dim, heads, ff, check_int(enc_layers, "enc_layers", min_value=1), dropout
        )
        if self.has_context:
            self.context_in = nn.Linear(n_mels, dim)
            self.context_encoder = _encoder(dim, heads, ff, ctx_layers, dropout)
        self.time_mlp = nn.Sequential(nn.Linear(dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.frames_in = nn.Linear(n_mels, dim)
        if self.roll_vocab is not None:
            self.roll_in = nn.Linear(tk.ROLL_CHANNELS, dim)
        self.layers = nn.ModuleList(
            DecoderLayer(dim, heads, ff, cond, dropout)
            for _ in range(check_int(dec_layers, "dec_layers", min_value=1))
        )
        self.norm_out = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, n_mels)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _pos(self, n: int, device: Any) -> torch.Tensor:
        return sinusoidal(n, self.dim, device=device)

    def event_times(self, tokens: torch.Tensor) -> torch.Tensor:
        """The time of each token in frames: the value of the last ``shift`` token before it
        (0 in the tie section), divided by ``steps_per_frame``; ``(B, L)`` float."""
        first, count = self.time_tokens or (0, 0)
        is_shift = (tokens >= first) & (tokens < first + count)
        value = torch.where(is_shift, tokens - first, torch.zeros_like(tokens))
        return torch.cummax(value, dim=1).values.float() / self.steps_per_frame

    def roll_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """The piano roll ``(B, frames, 384)`` of each row of ``tokens``, on their device."""
        if self.roll_vocab is None:
            raise ValueError("roll: this network has no roll input (built with roll=None).")
        if tokens.device.type == "meta":  # shapes without values (the device tests)
            return torch.zeros(*tokens.shape[:1], self.frames, tk.ROLL_CHANNELS, device="meta")
        out = tk.rolls(tokens.detach().cpu().numpy(), self.frames, self.roll_vocab,
                       steps_per_frame=self.steps_per_frame)  # fmt: skip
        return torch.from_numpy(out).to(tokens.device)

    def encode(
        self,
        tokens: torch.Tensor | None,
        context: torch.Tensor | None,
        batch: int,
        device: Any,
        roll: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """What the conditions give the decoder: the cross-attention memory ``(B, M, dim)``,
        its padding mask (or ``None``) and, with a roll input, the projected roll
        ``(B, frames, dim)`` (computed from ``tokens`` unless ``roll`` is given)."""
        if tokens is None and context is None:
            return torch.zeros(batch, 1, self.dim, device=device), None
        if tokens is None or (context is None and self.has_context):
            raise ValueError("tokens, context: give both (conditional) or neither (unconditional).")
        if tokens.ndim != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"tokens: expected int ids (B, L), got {describe(tokens)}.")
        on_cpu = tokens.device.type == "cpu"  # a GPU read-back would stall every step
        if on_cpu and (int(tokens.max()) >= self.vocab_size or int(tokens.min()) < 0):
            raise ValueError(f"tokens: ids must be 0 to {self.vocab_size - 1}.")
        pad = tokens == 0
        pad[:, 0] = False  # never mask a whole row (an empty segment still has its tie token)
        h = self.token_emb(tokens.long()) + self._pos(tokens.shape[1], device)
        if self.time_tokens is not None:
            h = h + sinusoidal_at(self.event_times(tokens), self.dim)
        parts = [self.notes_encoder(h, src_key_padding_mask=pad)]
        masks = [pad]
        if self.has_context:
            if context.shape[1:] != (self.frames, self.n_mels):
                raise ValueError(
                    f"context: expected (B, {self.frames}, {self.n_mels}), got {describe(context)}."
                )
            c = self.context_in(context) + self._pos(self.frames, device)
            parts.append(self.context_encoder(c))
            masks.append(torch.zeros(c.shape[:2], dtype=torch.bool, device=device))
        if self.roll_vocab is None:
            return torch.cat(parts, 1), torch.cat(masks, 1)
        roll = self.roll_of(tokens) if roll is None else roll
        if roll.shape != (tokens.shape[0], self.frames, tk.ROLL_CHANNELS):
            raise ValueError(
                f"roll: expected (B, {self.frames}, {tk.ROLL_CHANNELS}) (tl.tokens.roll of each "
                f"row of tokens), got {describe(roll)}."
            )
        return torch.cat(parts, 1), torch.cat(masks, 1), self.roll_in(roll.to(device).float())

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        tokens: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
        memory: tuple[torch.Tensor, ...] | None = None,
        roll: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The prediction ``(B, frames, n_mels)``; ``memory`` reuses :meth:`encode`'s output."""
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != self.n_mels:
            raise ValueError(
                f"x: expected noisy frames (B, frames, {self.n_mels}), got {describe(x)}."
            )
        b = x.shape[0]
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1).expand(b)
        if memory is None:
            memory = self.encode(tokens, context, b, x.device, roll)
        mem, mask, rolled = (*memory, None)[:3]  # rolled: the projected roll, or None
        if drop is not None:
            keep = (~drop.to(torch.bool)).to(mem.dtype)[:, None, None]
            mem = mem * keep
            if mask is not None:
                mask = mask & ~drop.to(torch.bool)[:, None]
            if rolled is not None:
                rolled = rolled * keep
        cond = self.time_mlp(sinusoidal_time(t * 1000.0, self.dim))
        h = self.frames_in(x) + self._pos(x.shape[1], x.device)
        if rolled is not None:
            h = h + rolled
        for layer in self.layers:
            h = layer(h, cond, mem, mask)
        return self.out(self.norm_out(h))


def sinusoidal_time(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of continuous times (scaled to 0-1000)."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device).float() / half)
    arg = t.float()[:, None] * freq[None]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)
