"""A small audio autoencoder on log-magnitude STFT frames: ``audio (B, N) <-> latents (B, C, T)``.

The book's offline stand-in for a neural audio codec such as Music2Latent: the encoder takes
the log-magnitude STFT of a clip (``log(|S| + 1e-5)`` of every bin as channels, one time
step per frame), and 1-D convolutions over the frames squeeze it into ``latent_channels``
numbers per ``hop * 2**downsample`` samples; the decoder mirrors it back to a log-magnitude
STFT, and Griffin-Lim (``n_iter`` iterations, seeded) finds a phase for it, as in chapter 4.
Learning magnitudes only keeps the network small and quick to train on a CPU; Music2Latent's
decoder *generates* the phase instead, which is why it needs far more computation.

- encoder: a 1x1 convolution from the ``n_fft // 2 + 1`` bins to ``width``, then per level a
  residual block (GroupNorm, SiLU, kernel-3 convolution, twice) and a stride-2 convolution;
  a last convolution to ``latent_channels``;
- decoder: the mirror image, with nearest-neighbour upsampling and a convolution per level,
  and a 1x1 convolution back to the bins.

The latents are not normalised: :meth:`STFTCodec.standardize` maps them to zero mean and unit
variance per channel with statistics stored in the model (the chapter shows why it matters).
The network carries a JSON-able ``config`` for ``tl.checkpoints``.

Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, describe
from .unet1d import _groups

__all__ = ["STFTCodec"]


class _Res(nn.Module):
    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(ch, groups), ch)
        self.conv1 = nn.Conv1d(ch, ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(ch, groups), ch)
        self.conv2 = nn.Conv1d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


class STFTCodec(nn.Module):
    """Encode a waveform into ``(B, latent_channels, frames / 2**downsample)`` and back.

    Args:
        n_fft: STFT size (Hann window of ``n_fft`` samples, centred frames).
        hop: STFT hop in samples.
        width: channels inside the network.
        downsample: how many times the frame rate is halved (latent hop =
            ``hop * 2**downsample`` samples).
        latent_channels: numbers per latent frame.
        norm_groups: GroupNorm groups.
        n_iter: Griffin-Lim iterations in :meth:`decode`.

    Clip lengths must be multiples of the latent hop (:attr:`latent_hop`).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """

    def __init__(
        self,
        *,
        n_fft: int = 512,
        hop: int = 128,
        width: int = 192,
        downsample: int = 2,
        latent_channels: int = 8,
        norm_groups: int = 8,
        n_iter: int = 32,
    ) -> None:
        super().__init__()
        n_fft = check_int(n_fft, "n_fft", min_value=8)
        hop = check_int(hop, "hop", min_value=1, max_value=n_fft)
        width = check_int(width, "width", min_value=8)
        downsample = check_int(downsample, "downsample", min_value=0, max_value=6)
        latent_channels = check_int(latent_channels, "latent_channels", min_value=1)
        norm_groups = check_int(norm_groups, "norm_groups", min_value=1)
        self.n_iter = check_int(n_iter, "n_iter", min_value=0)
        self.config: dict[str, Any] = dict(n_fft=n_fft, hop=hop, width=width,
                                           downsample=downsample, latent_channels=latent_channels,
                                           norm_groups=norm_groups, n_iter=self.n_iter)  # fmt: skip
        self.n_fft, self.hop, self.latent_channels = n_fft, hop, latent_channels
        self.latent_hop = hop * 2**downsample
        bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        enc: list[nn.Module] = [nn.Conv1d(bins, width, 1)]
        for _ in range(downsample):
            enc += [_Res(width, norm_groups), nn.Conv1d(width, width, 4, stride=2, padding=1)]
        enc += [_Res(width, norm_groups), nn.GroupNorm(_groups(width, norm_groups), width),
                nn.SiLU(), nn.Conv1d(width, latent_channels, 3, padding=1)]  # fmt: skip
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [
            nn.Conv1d(latent_channels, width, 3, padding=1),
            _Res(width, norm_groups),
        ]
        for _ in range(downsample):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv1d(width, width, 3, padding=1), _Res(width, norm_groups)]  # fmt: skip
        dec += [nn.GroupNorm(_groups(width, norm_groups), width), nn.SiLU(),
                nn.Conv1d(width, bins, 1)]  # fmt: skip
        self.decoder = nn.Sequential(*dec)
        # per-channel statistics of the training latents (set after training, saved with it)
        self.register_buffer("latent_mean", torch.zeros(latent_channels))
        self.register_buffer("latent_std", torch.ones(latent_channels))

    def standardize(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> zero mean and unit variance per channel (the training latents' stats)."""
        return (z - self.latent_mean[:, None]) / self.latent_std[:, None]

    def unstandardize(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`standardize`."""
        return z * self.latent_std[:, None] + self.latent_mean[:, None]

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _check_audio(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
            raise ValueError(f"audio: expected a float tensor (B, N), got {describe(x)}.")
        if x.shape[-1] % self.latent_hop or x.shape[-1] == 0:
            raise ValueError(
                f"audio: the length must be a positive multiple of the latent hop "
                f"{self.latent_hop}, got {x.shape[-1]} samples. Fix: pad or trim the clips."
            )
        return x

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        # zero padding at the ends, as librosa's stft (whose Griffin-Lim this one follows)
        return torch.stft(x, self.n_fft, self.hop, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)  # fmt: skip

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Audio ``(B, N)`` -> log-magnitude STFT ``(B, n_fft // 2 + 1, N / hop)`` (the last
        centred frame dropped, so the frames tile the clip)."""
        x = self._check_audio(x)
        return torch.log(self._stft(x)[..., :-1].abs() + 1e-5)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio ``(B, N)`` -> latents ``(B, latent_channels, N / latent_hop)``."""
        return self.encoder(self.features(x))

    def decode_features(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, latent_channels, T)`` -> log-magnitude STFT ``(B, bins, T * 2**downsample)``."""
        if not isinstance(z, torch.Tensor) or z.ndim != 3 or z.shape[1] != self.latent_channels:
            raise ValueError(
                f"latents: expected a tensor (B, {self.latent_channels}, T), got {describe(z)}."
            )
        return self.decoder(z)

    def decode(self, z: torch.Tensor, *, seed: int | None = 0) -> torch.Tensor:
        """Latents ``(B, latent_channels, T)`` -> audio ``(B, T * latent_hop)``, phase by
        Griffin-Lim (:meth:`griffin_lim`)."""
        mag = torch.exp(self.decode_features(z)) - 1e-5
        mag = torch.nn.functional.pad(mag.clamp_min(0), (0, 1))  # the dropped last frame: 0
        return self.griffin_lim(mag, z.shape[-1] * self.latent_hop, seed=seed)

    def griffin_lim(self, mag: torch.Tensor, length: int, *, seed: int | None = 0) -> torch.Tensor:
        """A phase for the magnitude STFT ``mag`` ``(B, bins, frames)``, and its audio ``(B, length)``.

        ``n_iter`` iterations of Griffin-Lim with momentum 0.99, as librosa's, from a random
        phase drawn with ``seed`` (``None``: from zero phase, librosa's ``init=None``).
        """
        from ..audio import griffin_lim

        return griffin_lim(mag, n_fft=self.n_fft, hop_length=self.hop, length=length,
                           n_iter=self.n_iter, seed=seed)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The log-magnitude round trip ``decode_features(encode(x))`` (what training fits)."""
        return self.decode_features(self.encode(x))
