"""Audio codecs for latent diffusion: audio -> latents -> audio, behind one small interface.

A latent diffusion model does not see samples: a pretrained *codec* (an autoencoder) turns a
clip into a short sequence of latent vectors, the diffusion model learns those, and the
codec's decoder turns generated latents back into sound. This module holds the interface and
one real codec:

- :class:`Codec`: ``encode(audio) -> (B, channels, T)`` and ``decode(latents, length) ->
  (B, N)``, without autograd, with the inputs checked (mono float audio at the codec's rate,
  long enough; latents with the codec's channel count). ``latent_rate`` is ``sample_rate /
  hop``, latent frames per second.
- :class:`Music2LatentCodec`: the ``music2latent`` package (Pasini et al., ISMIR 2024, a
  consistency autoencoder): 44.1 kHz mono -> 64 channels at 44100 / 4096 = 10.77 frames per
  second. ``random()`` builds the real network with untrained weights (offline: shapes and
  CPU cost), ``from_checkpoint(path)`` loads local weights safely, ``pretrained()`` finds them.
- :class:`Latents`: latents tagged with the name of the codec that made them. Which codec ran
  is printed (``codec.name``), shown in figure titles and stored with cached latents
  (:meth:`Latents.save`); latents from two codecs are never mixed (:func:`check_same_codec`).

The music2latent weights are licensed CC BY-NC 4.0 (non-commercial use only; the package's
code too) and are never copied into this repository: each reader gets them from
https://huggingface.co/SonyCSLParis/music2latent.

Example::

    codec = tl.codecs.Music2LatentCodec.random(seed=0)    # offline, untrained
    z = codec.encode(x)                                   # (B, N) at 44.1 kHz -> (B, 64, T)
    y = codec.decode(z, length=x.shape[-1], seed=0)       # (B, N)
    print(codec.name, codec.latent_rate)

Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._io import as_path, atomic_write
from ._validate import check_finite, check_int, check_sample_rate, describe

__all__ = [
    "ENV_CHECKPOINT",
    "LICENSE_NOTE",
    "MUSIC2LATENT_HOP",
    "MUSIC2LATENT_MIN_LENGTH",
    "MUSIC2LATENT_REPO",
    "MUSIC2LATENT_SHA256",
    "BookCodec",
    "Codec",
    "Latents",
    "Music2LatentCodec",
    "check_same_codec",
]

#: The music2latent checkpoint's SHA-256, pinned by the book once someone with a network
#: connection has computed it from the official file. ``None`` until then: a checkpoint that
#: needs unpickling (not tensors only) is refused unless the caller passes the hash they trust.
MUSIC2LATENT_SHA256: str | None = None
#: Where the official weights live (the package downloads ``music2latent.pt`` from there).
MUSIC2LATENT_REPO = "SonyCSLParis/music2latent"
#: Environment variable with the path of a local ``music2latent.pt``.
ENV_CHECKPOINT = "MUSIC2LATENT_CHECKPOINT"
#: Said wherever the weights are mentioned.
LICENSE_NOTE = (
    "The music2latent weights are licensed CC BY-NC 4.0 (non-commercial use only) and are "
    "never copied into this repository: get them from "
    f"https://huggingface.co/{MUSIC2LATENT_REPO}."
)
#: Audio samples per latent frame: the STFT hop (512) times the encoder's time
#: downsampling (8), from music2latent's ``hparams.py`` (tests check them against it).
MUSIC2LATENT_HOP = 4096
#: Shortest clip that gives one latent frame: 3 STFT hops of context plus one frame.
MUSIC2LATENT_MIN_LENGTH = 3 * 512 + MUSIC2LATENT_HOP  # 5632


# --------------------------------------------------------------------------------------------
# Latents tagged with their codec
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Latents:
    """Latents ``(B, channels, T)`` with the name of the codec that made them.

    Args:
        tensor: the latents, a float tensor ``(B, channels, T)``.
        codec: the codec's :attr:`Codec.name` (it says which weights ran).
        sample_rate: the codec's audio rate, in Hz.
        hop: audio samples per latent frame.
        length: samples of the audio they were encoded from (``decode`` restores it), or None.

    Combine latents with :meth:`cat`, which refuses two codecs; :meth:`save` and :meth:`load`
    keep the codec's name in the file.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """

    tensor: Any
    codec: str
    sample_rate: int
    hop: int
    length: int | None = None

    def __post_init__(self) -> None:
        _check_latents_tensor(self.tensor, "tensor")
        if not isinstance(self.codec, str) or not self.codec:
            raise TypeError(
                f"codec: expected the codec's name (a non-empty str), got {describe(self.codec)}. "
                f"Fix: use codec.tag(latents), which fills it in."
            )
        check_sample_rate(self.sample_rate, "sample_rate")
        check_int(self.hop, "hop", min_value=1)
        if self.length is not None:
            check_int(self.length, "length", min_value=1)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(B, channels, T)``."""
        return tuple(self.tensor.shape)

    @property
    def latent_rate(self) -> float:
        """Latent frames per second, ``sample_rate / hop``."""
        return self.sample_rate / self.hop

    def __repr__(self) -> str:
        return f"Latents(shape={self.shape}, codec={self.codec!r}, length={self.length})"

    @classmethod
    def cat(cls, items: Any) -> Latents:
        """Concatenate latents of one codec along the batch axis; two codecs -> ``ValueError``.

        The result keeps ``length`` when all items share it, else ``None``.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        import torch

        items = list(items) if not isinstance(items, Latents) else [items]
        if not items:
            raise ValueError("items: expected one or more Latents, got none.")
        check_same_codec(*items)
        if len({it.shape[1:] for it in items}) > 1:
            raise ValueError(
                f"items: latents of different shapes {[it.shape for it in items]} cannot be "
                f"concatenated on the batch axis. Fix: encode clips of the same length."
            )
        lengths = {it.length for it in items}
        first = items[0]
        return cls(
            torch.cat([it.tensor for it in items]),
            first.codec,
            first.sample_rate,
            first.hop,
            lengths.pop() if len(lengths) == 1 else None,
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the latents to a ``.safetensors`` file, with the codec's name in its header.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        from safetensors.torch import save

        path = as_path(path, "path")
        metadata = {
            "format": "tutorial_lib.codecs.Latents",
            "codec": self.codec,
            "sample_rate": str(self.sample_rate),
            "hop": str(self.hop),
            "length": "" if self.length is None else str(self.length),
        }
        data = save({"latents": self.tensor.detach().cpu().contiguous()}, metadata=metadata)
        with atomic_write(path, "wb") as f:
            f.write(data)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, codec: str | Codec | None = None) -> Latents:
        """Read latents written by :meth:`save`; ``codec`` (a name or a codec) must match.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        from safetensors import safe_open

        path = as_path(path, "path")
        if not path.is_file():
            raise FileNotFoundError(f"path: no latents file at {str(path)!r}.")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != "tutorial_lib.codecs.Latents" or "latents" not in f.keys():
                raise ValueError(
                    f"path: {str(path)!r} is not a latents file written by Latents.save (its "
                    f"header has no codec name). Fix: re-encode the audio and save it with "
                    f"codec.tag(latents).save(path)."
                )
            tensor = f.get_tensor("latents")
        out = cls(
            tensor,
            meta["codec"],
            int(meta["sample_rate"]),
            int(meta["hop"]),
            int(meta["length"]) if meta.get("length") else None,
        )
        if codec is not None:
            want = codec.name if isinstance(codec, Codec) else codec
            if out.codec != want:
                raise ValueError(
                    f"path: these latents were made by codec {out.codec!r}, not {want!r}; "
                    f"latents from two codecs are never mixed. Fix: re-encode the audio with "
                    f"{want!r}, or load them with the codec that made them."
                )
        return out


def check_same_codec(*items: Latents) -> str:
    """Check that every :class:`Latents` came from the same codec; return its name.

    Raises ``ValueError`` naming both codecs otherwise: latents of two codecs live in
    different spaces (different weights give different latents for the same sound).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    if not items:
        raise ValueError("items: expected one or more Latents, got none.")
    for i, it in enumerate(items):
        if not isinstance(it, Latents):
            raise TypeError(
                f"items[{i}]: expected Latents (tagged with their codec), got {describe(it)}. "
                f"Fix: tag them with the codec that made them, codec.tag(latents)."
            )
    first = items[0]
    for i, it in enumerate(items[1:], start=1):
        if (it.codec, it.sample_rate, it.hop) != (first.codec, first.sample_rate, first.hop):
            raise ValueError(
                f"items[{i}]: latents from codec {it.codec!r} cannot be mixed with latents "
                f"from codec {first.codec!r}: each codec has its own latent space. Fix: encode "
                f"all the audio with one codec."
            )
    return first.codec


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------
def _check_latents_tensor(z: Any, name: str, channels: int | None = None) -> None:
    import torch

    if not isinstance(z, torch.Tensor):
        raise TypeError(
            f"{name}: expected latents as a torch tensor (B, C, T), got {describe(z)}. "
            f"Fix: torch.as_tensor({name}, dtype=torch.float32)."
        )
    if not z.is_floating_point():
        raise TypeError(
            f"{name}: expected floating-point latents, got {describe(z)}. Fix: {name}.float()."
        )
    if z.ndim != 3:
        hint = f" Fix: add the batch axis, {name}[None]." if z.ndim == 2 else ""
        raise ValueError(
            f"{name}: expected latents of shape (B, channels, T), got {describe(z)}.{hint}"
        )
    if channels is not None and z.shape[1] != channels:
        raise ValueError(
            f"{name}: expected {channels} latent channels (shape (B, {channels}, T)), got "
            f"{z.shape[1]} ({describe(z)}). Fix: pass latents made by this codec's encode; "
            f"latents of another codec or a (B, T, C) layout do not fit (transpose with "
            f"{name}.transpose(1, 2))."
        )
    if z.shape[0] == 0 or z.shape[2] == 0:
        raise ValueError(f"{name}: expected at least one clip and one frame, got {describe(z)}.")


class Codec(abc.ABC):
    """An audio codec: ``encode(audio) -> (B, channels, T)``, ``decode(latents) -> (B, N)``.

    Subclasses set ``name``, ``sample_rate``, ``channels``, ``hop`` and ``min_length`` and
    implement ``_encode`` / ``_decode`` and :meth:`latent_length`; this class checks the
    inputs and turns autograd off, so every codec fails the same way on the same mistake.

    Attributes:
        name: which codec and which weights (printed, put in figure titles, stored with
            cached latents).
        sample_rate: audio rate in Hz; audio at another rate is refused.
        channels: latent channels.
        hop: audio samples per latent frame.
        min_length: the shortest clip, in samples, that gives one latent frame.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """

    name: str
    sample_rate: int
    channels: int
    hop: int
    min_length: int = 1

    @property
    def latent_rate(self) -> float:
        """Latent frames per second: ``sample_rate / hop``.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        return self.sample_rate / self.hop

    @abc.abstractmethod
    def latent_length(self, n_samples: int) -> int:
        """Latent frames ``T`` that :meth:`encode` gives for a clip of ``n_samples``.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """

    @abc.abstractmethod
    def _encode(self, audio: Any) -> Any:
        """``(B, N)`` float32 CPU tensor -> ``(B, channels, T)`` float32 CPU tensor."""

    @abc.abstractmethod
    def _decode(self, latents: Any, seed: int | None) -> Any:
        """``(B, channels, T)`` float32 CPU tensor -> ``(B, N)`` float32 CPU tensor."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate}, "
            f"channels={self.channels}, hop={self.hop}, latent_rate={self.latent_rate:.2f} Hz)"
        )

    # ---- checks ------------------------------------------------------------------------
    def _audio(self, audio: Any, sr: int | None) -> Any:
        import torch

        name = "audio"
        if isinstance(audio, (str, os.PathLike)):
            raise TypeError(
                f"{name}: got a file path ({str(audio)!r}); the codec takes samples, not "
                f"files. Fix: load the audio first, e.g. x, sr = librosa.load(path, "
                f"sr={self.sample_rate}, mono=True), then codec.encode(x, sr=sr)."
            )
        if not isinstance(audio, (torch.Tensor, np.ndarray)):
            raise TypeError(
                f"{name}: expected a float numpy array or torch tensor of samples, got "
                f"{describe(audio)}. Fix: np.asarray({name}, dtype=np.float32)."
            )
        if isinstance(audio, torch.Tensor):
            floating = audio.is_floating_point()
        else:
            floating = np.issubdtype(audio.dtype, np.floating)
        if not floating:
            raise TypeError(
                f"{name}: expected float samples in [-1, 1], got {describe(audio)}. Fix: "
                f"convert integer PCM, e.g. {name}.astype(np.float32) / 32768 for int16."
            )
        if audio.ndim not in (1, 2):
            hint = ""
            if audio.ndim == 3 and audio.shape[1] == 1:
                hint = f" Fix: drop the channel axis, {name}[:, 0]."
            elif audio.ndim == 3:
                hint = (
                    f" Fix: mix each clip to mono, {name}.mean(1), or encode channels as a batch."
                )
            raise ValueError(
                f"{name}: expected mono audio of shape (N,) or (B, N), got {describe(audio)}.{hint}"
            )
        if audio.ndim == 2 and audio.shape[0] > audio.shape[1]:
            raise ValueError(
                f"{name}: shape {tuple(audio.shape)} has more clips than samples; it looks "
                f"like (N, B) or (N, channels). The codec takes (B, N). Fix: pass {name}.T."
            )
        if sr is not None:
            sr = check_sample_rate(sr, "sr")
            if sr != self.sample_rate:
                raise ValueError(
                    f"sr: {self.name} takes audio at {self.sample_rate} Hz, got {sr} Hz. Fix: "
                    f"resample first, e.g. librosa.resample({name}, orig_sr={sr}, "
                    f"target_sr={self.sample_rate}) or tl.audio.resample({name}, {sr}, "
                    f"{self.sample_rate})."
                )
        if audio.shape[-1] < self.min_length:
            raise ValueError(
                f"{name}: too short for {self.name}: {audio.shape[-1]} samples "
                f"({audio.shape[-1] / self.sample_rate:.3f} s), need at least "
                f"{self.min_length} ({self.min_length / self.sample_rate:.3f} s) for one "
                f"latent frame. Fix: pass a longer clip or pad it, e.g. "
                f"tl.audio.fix_length({name}, {self.min_length})."
            )
        check_finite(audio, name)
        x = torch.as_tensor(audio).detach().to("cpu", torch.float32)
        return x[None] if x.ndim == 1 else x

    # ---- public API --------------------------------------------------------------------
    def encode(self, audio: Any, sr: int | None = None) -> Any:
        """Audio ``(N,)`` or ``(B, N)`` at :attr:`sample_rate` -> latents ``(B, channels, T)``.

        Args:
            audio: mono float samples, a numpy array or torch tensor (not a file path).
            sr: the audio's sample rate in Hz, if known: a rate other than the codec's is
                refused (resample first).

        Returns:
            A float32 CPU tensor ``(B, channels, latent_length(N))``, without autograd.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        import torch

        x = self._audio(audio, sr)
        with torch.no_grad():
            z = self._encode(x)
        return z.detach().to("cpu", torch.float32)

    def decode(self, latents: Any, length: int | None = None, *, seed: int | None = 0) -> Any:
        """Latents ``(B, channels, T)`` (a tensor or :class:`Latents`) -> audio ``(B, N)``.

        Args:
            latents: a float tensor ``(B, channels, T)``, or :class:`Latents`, which must
                come from this codec (same :attr:`name`).
            length: samples per clip: the output is cropped or zero-padded to it. ``None``:
                the :class:`Latents`' ``length`` if it has one, else the codec's own length.
            seed: seed of the decoder's random draws (a codec that decodes by diffusion
                starts from noise); ``None`` uses torch's global generator.

        Returns:
            A float32 CPU tensor ``(B, N)``, without autograd.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        import torch

        if isinstance(latents, Latents):
            if latents.codec != self.name:
                raise ValueError(
                    f"latents: made by codec {latents.codec!r}, cannot be decoded by "
                    f"{self.name!r}: latents from two codecs are never mixed. Fix: decode them "
                    f"with the codec that made them, or re-encode the audio with this one."
                )
            if length is None:
                length = latents.length
            latents = latents.tensor
        _check_latents_tensor(latents, "latents", self.channels)
        check_finite(latents, "latents")
        if length is not None:
            length = check_int(length, "length", min_value=1)
        if seed is not None:
            seed = check_int(seed, "seed", min_value=0)
        z = latents.detach().to("cpu", torch.float32)
        with torch.no_grad():
            y = self._decode(z, seed).detach().to("cpu", torch.float32)
        if length is not None:
            if y.shape[-1] >= length:
                y = y[..., :length]
            else:
                y = torch.nn.functional.pad(y, (0, length - y.shape[-1]))
        return y.contiguous()

    def tag(self, latents: Any, length: int | None = None) -> Latents:
        """Wrap latents made by this codec as :class:`Latents`, with its name and rates.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        _check_latents_tensor(latents, "latents", self.channels)
        return Latents(latents, self.name, self.sample_rate, self.hop, length)


# --------------------------------------------------------------------------------------------
# the book's codec


class BookCodec(Codec):
    """The book's offline codec behind the :class:`Codec` interface: a trained
    :class:`~tutorial_lib.models.stft_codec.STFTCodec` (e.g. chapter 5's ``guitar-codec``).

    Clips are zero-padded to a multiple of the latent hop before encoding (so
    ``latent_length(n) = ceil(n / hop)``); ``decode`` returns ``T * hop`` samples unless a
    ``length`` is given. The latents are the network's raw ones (not standardised).

    Args:
        network: the STFTCodec (its weights define the codec: say which in ``name``).
        sample_rate: the rate it was trained at, in Hz.
        name: which codec and weights, e.g. ``"book codec (guitar-codec)"``.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """

    def __init__(self, network: Any, *, sample_rate: int, name: str) -> None:
        for attr in ("encode", "decode", "latent_hop", "latent_channels"):
            if not hasattr(network, attr):
                raise TypeError(
                    f"network: expected an STFTCodec (tl.models.stft_codec), got "
                    f"{describe(network)}."
                )
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"name: expected a non-empty name for the codec, got {describe(name)}."
            )
        self.network = network.eval()
        self.name = name
        self.sample_rate = check_sample_rate(sample_rate, "sample_rate")
        self.channels = int(network.latent_channels)
        self.hop = int(network.latent_hop)
        self.min_length = 1

    def latent_length(self, n_samples: int) -> int:
        """``ceil(n_samples / hop)`` frames (the clip is zero-padded to whole frames).

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        n = check_int(n_samples, "n_samples", min_value=1)
        return -(-n // self.hop)

    def _encode(self, audio: Any) -> Any:
        import torch

        pad = self.latent_length(audio.shape[-1]) * self.hop - audio.shape[-1]
        return self.network.encode(torch.nn.functional.pad(audio, (0, pad)))

    def _decode(self, latents: Any, seed: int | None) -> Any:
        return self.network.decode(latents)  # deterministic: the seed is not used


# --------------------------------------------------------------------------------------------
# music2latent
# --------------------------------------------------------------------------------------------
def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _device(device: Any) -> Any:
    import torch

    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device: expected a torch device such as 'cpu' or 'cuda', got {device!r}. "
            f"Fix: pass device='cpu', or the device tl.setup() returned."
        ) from err


def _build_unet(seed: int) -> Any:
    """music2latent's full network (``models.UNet``) with the weights its init draws from ``seed``."""
    import torch
    from music2latent.models import UNet

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return UNet().eval()


def _package_locations() -> list[Path]:
    """Where a ``music2latent.pt`` the package (or the Hub client) downloaded would already be.

    Looks only at the disk: no network call.
    """
    places: list[Path] = []
    try:
        from music2latent.hparams_inference import load_path_inference_default

        places.append(Path(load_path_inference_default))
    except ImportError:  # pragma: no cover - music2latent is a dependency
        pass
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(MUSIC2LATENT_REPO, "music2latent.pt")
        if isinstance(cached, str):
            places.append(Path(cached))
    except Exception:  # noqa: BLE001 - a broken cache is the same as no cache here
        pass
    return places


class Music2LatentCodec(Codec):
    """music2latent (a consistency autoencoder): 44.1 kHz mono <-> 64 channels at 10.77 Hz.

    Wraps the ``music2latent`` package and runs its own inference code
    (``encode_audio_inference``, ``decode_latent_inference``), so the shapes, cropping and
    scaling are the package's. Build one with a class method, not the constructor:

    - :meth:`random`: the real 58 M-parameter network with untrained weights (offline);
    - :meth:`from_checkpoint`: weights from a local ``music2latent.pt``, loaded safely;
    - :meth:`pretrained`: finds that file (argument, ``$MUSIC2LATENT_CHECKPOINT``, the
      package's download folder) and, only if asked, downloads it.

    The contract, from the package's code:

    - a clip of ``N`` samples gives ``T = ((N - 1536) // 512) // 8`` latent frames; the
      encoder crops the clip to ``4096 * T + 1536`` samples first, so up to 4095 samples at
      the end are not encoded (``decode(length=N)`` pads them with zeros);
    - ``decode`` returns ``4096 * T + 1536`` samples unless ``length`` is given;
    - decoding starts from Gaussian noise (``sigma_max = 80``) and takes ``steps``
      consistency steps (default 1): ``seed`` fixes the noise.

    Args:
        network: a ``music2latent.models.UNet``.
        name: which weights these are (see :attr:`Codec.name`).
        device: where the network runs; inputs and outputs stay on the CPU.
        steps: denoising steps of the decoder (the package's ``denoising_steps``).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """

    sample_rate = 44100
    channels = 64
    hop = MUSIC2LATENT_HOP
    min_length = MUSIC2LATENT_MIN_LENGTH

    def __init__(self, network: Any, *, name: str, device: Any = "cpu", steps: int = 1) -> None:
        from music2latent.models import UNet

        if not isinstance(network, UNet):
            raise TypeError(
                f"network: expected a music2latent.models.UNet, got {describe(network)}. Fix: "
                f"use Music2LatentCodec.random(), .from_checkpoint(path) or .pretrained()."
            )
        if not isinstance(name, str) or not name:
            raise TypeError(f"name: expected a non-empty str, got {describe(name)}.")
        self.name = name
        self.device = _device(device)
        self.steps = check_int(steps, "steps", min_value=1)
        self.network = network.to(self.device).eval()
        self.network.requires_grad_(False)

    # ---- constructors --------------------------------------------------------------------
    @classmethod
    def random(cls, seed: int = 0, *, device: Any = "cpu", steps: int = 1) -> Music2LatentCodec:
        """The real network with random (untrained) weights: no download, no checkpoint.

        For shapes, the latent rate and the CPU cost; what it decodes is not music (its
        last layer starts at zero, so it returns faint noise). Its :attr:`name` says so.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        seed = check_int(seed, "seed", min_value=0)
        return cls(
            _build_unet(seed),
            name=f"music2latent, random weights (untrained, seed {seed})",
            device=device,
            steps=steps,
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        sha256: str | None = None,
        *,
        device: Any = "cpu",
        steps: int = 1,
    ) -> Music2LatentCodec:
        """Load a local ``music2latent.pt``, safely, and check it is the right, trained network.

        1. ``torch.load(path, weights_only=True)``: tensors and plain containers only, no
           code can run. If the file holds other objects, it is unpickled in full only when
           its SHA-256 equals ``sha256`` or :data:`MUSIC2LATENT_SHA256`; otherwise it is
           refused, and the message gives the file's hash to compare with a source you trust.
        2. The weights (``checkpoint["gen_state_dict"]``, as the package stores them, or a bare
           state dict) must have exactly the network's names and shapes, and be finite.
        3. Untrained weights are refused: the init sets many tensors to exactly zero (the
           decoder's output layer, the zero-initialised layers, the norms' biases); if all of
           them are still zero, or the output layer is, the file was never trained (the
           decoder would ignore the latents).

        Its :attr:`name` carries the file's name and the start of its SHA-256.

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        import torch

        path = as_path(path, "path")
        if not path.is_file():
            raise FileNotFoundError(
                f"path: no checkpoint file at {str(path)!r}. Fix: pass the path of your "
                f"music2latent.pt, or use Music2LatentCodec.pretrained(). {LICENSE_NOTE}"
            )
        if sha256 is not None and (
            not isinstance(sha256, str) or len(sha256) != 64 or not _is_hex(sha256)
        ):
            raise ValueError(
                f"sha256: expected 64 hex digits (a SHA-256 hash), got {sha256!r}. "
                f"Fix: copy the full hash, e.g. from the model page's file details."
            )
        device = _device(device)
        steps = check_int(steps, "steps", min_value=1)
        digest = _file_sha256(path)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            if not _holds_objects(path, err):
                raise ValueError(
                    f"path: {str(path)!r} is not a PyTorch checkpoint that can be read (the "
                    f"unpickler stopped: {str(err).splitlines()[0][:120]}). Fix: download "
                    f"music2latent.pt again."
                ) from None
            trusted = sha256 or MUSIC2LATENT_SHA256
            if trusted is None or trusted.lower() != digest:
                raise ValueError(_untrusted_message(path, digest, sha256, err)) from None
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - a truncated or foreign file
            raise ValueError(
                f"path: {str(path)!r} is not a PyTorch checkpoint that can be read "
                f"({type(err).__name__}: {err}). Fix: download music2latent.pt again."
            ) from err

        state = _state_dict(checkpoint, path)
        network = _build_unet(0)
        _check_state(network, state, path)
        network.load_state_dict(state, strict=True)
        return cls(
            network,
            name=f"music2latent ({path.name}, sha256 {digest[:12]})",
            device=device,
            steps=steps,
        )

    @classmethod
    def pretrained(
        cls,
        path: str | os.PathLike | None = None,
        *,
        download: bool = False,
        sha256: str | None = None,
        device: Any = "cpu",
        steps: int = 1,
    ) -> Music2LatentCodec:
        """The trained music2latent, from the first checkpoint found on disk.

        Looks, in order, at ``path``; the environment variable ``MUSIC2LATENT_CHECKPOINT``;
        the file the package downloads (``music2latent/models/music2latent.pt`` next to its
        code) and the Hugging Face cache. With ``download=True`` and ``HF_HUB_OFFLINE`` not
        ``"1"``, it then lets the package download it (233 MB). Without a file it raises
        ``FileNotFoundError`` at once: no network call unless ``download=True``. The file is
        loaded with :meth:`from_checkpoint` (``sha256`` is passed on).

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        options = {"sha256": sha256, "device": device, "steps": steps}
        if not isinstance(download, bool):
            raise TypeError(f"download: expected True or False, got {describe(download)}.")
        if path is not None:
            path = as_path(path, "path")
            if not path.is_file():
                raise FileNotFoundError(
                    f"path: no checkpoint at {str(path)!r}. Fix: pass the path of "
                    f"music2latent.pt, or leave path out to look in the usual places. "
                    f"{LICENSE_NOTE}"
                )
            return cls.from_checkpoint(path, **options)
        env = os.environ.get(ENV_CHECKPOINT, "")
        if env:
            env_path = Path(env).expanduser()
            if not env_path.is_file():
                raise FileNotFoundError(
                    f"{ENV_CHECKPOINT}: points to {env!r}, which is not a file. Fix: set it "
                    f"to the path of your music2latent.pt, or unset it. {LICENSE_NOTE}"
                )
            return cls.from_checkpoint(env_path, **options)
        places = _package_locations()
        for place in places:
            if place.is_file():
                return cls.from_checkpoint(place, **options)
        looked = ", ".join(repr(str(p)) for p in places) or "(the package's folder)"
        if download:
            if os.environ.get("HF_HUB_OFFLINE") == "1":
                raise RuntimeError(
                    f"download: HF_HUB_OFFLINE=1, so music2latent.pt cannot be downloaded, and "
                    f"none was found ({ENV_CHECKPOINT} unset; looked at {looked}). Fix: set "
                    f"{ENV_CHECKPOINT} to a local copy, or unset HF_HUB_OFFLINE. {LICENSE_NOTE}"
                )
            from music2latent.hparams_inference import load_path_inference_default
            from music2latent.utils import download_model

            try:
                download_model()  # the package's own download, into its folder
            except Exception as err:  # noqa: BLE001 - network, disk, permissions
                raise RuntimeError(
                    f"download: the package could not download music2latent.pt "
                    f"({type(err).__name__}: {err}). Fix: download it yourself from "
                    f"https://huggingface.co/{MUSIC2LATENT_REPO} and set {ENV_CHECKPOINT} to "
                    f"its path. {LICENSE_NOTE}"
                ) from err
            return cls.from_checkpoint(Path(load_path_inference_default), **options)
        raise FileNotFoundError(
            f"No music2latent checkpoint found: no path given, {ENV_CHECKPOINT} unset, nothing "
            f"at {looked}. Fix: download music2latent.pt (e.g. `huggingface-cli download "
            f"{MUSIC2LATENT_REPO} music2latent.pt`) and set {ENV_CHECKPOINT} to its path, or "
            f"call Music2LatentCodec.pretrained(download=True). For shapes and timings "
            f"offline, use Music2LatentCodec.random(). {LICENSE_NOTE}"
        )

    # ---- the package's inference code --------------------------------------------------------
    def latent_length(self, n_samples: int) -> int:
        """``T = ((N - 1536) // 512) // 8`` latent frames for ``N`` samples (0 if too short).

        Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
        """
        n = check_int(n_samples, "n_samples", min_value=0)
        return max(0, ((n - 3 * 512) // 512) // 8)

    def _inference(self) -> Any:
        """The package's ``EncoderDecoder``, made without its ``__init__`` (which downloads)."""
        from music2latent.inference import EncoderDecoder

        ed = EncoderDecoder.__new__(EncoderDecoder)
        ed.device = self.device
        ed.gen = self.network
        ed.load_path_inference = None
        return ed

    def _encode(self, audio: Any) -> Any:
        with _quiet_autocast():
            return self._inference().encode(audio)

    def _decode(self, latents: Any, seed: int | None) -> Any:
        import torch

        ed = self._inference()
        if seed is None:
            with _quiet_autocast():
                return ed.decode(latents, denoising_steps=self.steps)
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), _quiet_autocast():
            torch.manual_seed(seed)  # the noise is drawn on the CPU, the steps' on the device
            return ed.decode(latents, denoising_steps=self.steps)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


class _quiet_autocast(warnings.catch_warnings):
    """Silence one warning, here only: the package asks for CUDA autocast also on the CPU.

    (``torch.autocast(device_type="cuda", enabled=True)`` on a machine without CUDA warns
    "CUDA is not available ... Disabling autocast" on every call; autocast is then off, which
    is what the CPU needs. On a GPU the package runs the network in float16.)
    """

    def __enter__(self) -> None:
        super().__enter__()
        warnings.filterwarnings("ignore", message=r"CUDA is not available.*autocast")


def _holds_objects(path: Path, err: Exception) -> bool:
    """Did ``weights_only`` refuse a real torch file for its Python objects (not for junk)?"""
    import zipfile

    if "Unsupported global" in str(err):
        return True
    return zipfile.is_zipfile(path)  # a torch.save file, whose pickle asks for more than tensors


def _untrusted_message(path: Path, digest: str, given: str | None, err: Exception) -> str:
    found = ""
    try:
        import torch

        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        if names:
            found = f" (it holds {', '.join(names[:5])}{' ...' if len(names) > 5 else ''})"
    except Exception:  # noqa: BLE001 - the list is a courtesy
        pass
    if given is not None:
        why = f"its SHA-256 is {digest}, not the sha256 you passed ({given})"
    else:
        why = (
            f"its SHA-256 is {digest}, and no trusted hash is known (MUSIC2LATENT_SHA256 is "
            f"not pinned yet)"
        )
    return (
        f"path: {str(path)!r} holds Python objects besides tensors{found}, so loading it "
        f"would unpickle them, which can run code; {why}. Refused. Fix: compare {digest} with "
        f"the SHA-256 the model page lists (https://huggingface.co/{MUSIC2LATENT_REPO}, file "
        f"music2latent.pt), and if they match, pass sha256='<that hash>'. {LICENSE_NOTE}"
    )


def _state_dict(checkpoint: Any, path: Path) -> dict[str, Any]:
    import torch

    if isinstance(checkpoint, dict) and "gen_state_dict" in checkpoint:
        state = checkpoint["gen_state_dict"]
    else:
        state = checkpoint
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        keys = list(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(
            f"path: {str(path)!r} is not a music2latent checkpoint: expected a dict with "
            f"'gen_state_dict' (the network's tensors) or a state dict, found {keys}. Fix: "
            f"use the official music2latent.pt from https://huggingface.co/{MUSIC2LATENT_REPO}."
        )
    return state


def _check_state(network: Any, state: dict[str, Any], path: Path) -> None:
    """Names, shapes, finiteness, and the never-trained signature (see ``from_checkpoint``)."""
    import torch

    from .checkpoints import compare_state

    expected = network.state_dict()
    missing, unexpected, wrong = compare_state(state, expected)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({', '.join(missing[:3])}...)")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}...)")
        if wrong:
            parts.append(f"{len(wrong)} with the wrong shape ({'; '.join(wrong[:3])})")
        raise ValueError(
            f"path: {str(path)!r} does not fit music2latent's network (music2latent.models."
            f"UNet): tensors {', '.join(parts)}. It is another model, another version of the "
            f"package, or a damaged file. Fix: use the official music2latent.pt for this "
            f"package version."
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(
            f"path: {str(path)!r} holds NaN or Inf weights ({', '.join(bad[:3])}). "
            f"Fix: download music2latent.pt again."
        )
    zero_at_init = [k for k, v in expected.items() if v.is_floating_point() and not v.any()]
    still_zero = [k for k in zero_at_init if not state[k].any()]
    dead_output = not state["conv_out.weight"].any()
    if dead_output or (zero_at_init and len(still_zero) == len(zero_at_init)):
        raise ValueError(
            f"path: {str(path)!r} looks untrained: {len(still_zero)} of the "
            f"{len(zero_at_init)} tensors that the network's init sets to zero are still "
            f"exactly zero (conv_out.weight among them: the decoder would ignore the "
            f"latents). Fix: use the trained music2latent.pt; for an untrained network on "
            f"purpose, use Music2LatentCodec.random()."
        )
