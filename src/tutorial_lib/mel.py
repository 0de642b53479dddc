"""Sounds as pictures: the mel-spectrogram images of the Audio Diffusion pipeline, and back.

:class:`Mel` has the contract of the seed's ``Mel`` (diffusers' ``AudioDiffusionPipeline``,
from teticio/audio-diffusion): the same parameters (``x_res, y_res, sample_rate, n_fft,
hop_length, top_db, n_iter``), the same methods, and byte-identical images
(``tests/test_mel.py`` compares them with diffusers' ``Mel``). librosa does the mel and the
Griffin-Lim work. The details that matter:

- a slice is ``x_res * hop_length - 1`` samples, so that the centred STFT gives exactly
  ``x_res`` frames;
- each slice is normalised to its own loudest bin: ``power_to_db(S, ref=max, top_db)``, so an
  image holds no absolute level (a quiet and a loud clip give the same picture);
- dB in ``[-top_db, 0]`` map to bytes by ``uint8((dB + top_db) * 255 / top_db + 0.5)``, and
  back by ``byte * top_db / 255 - top_db``;
- the way back has no phase: Griffin-Lim estimates one in ``n_iter`` iterations, from a random
  start that this class seeds (``seed``), so a round trip is reproducible. (The seed's code
  passes no seed: librosa then starts each call from a fresh, unseeded ``default_rng()``,
  so two round trips of the same image differ.)

Images are NumPy arrays of ``uint8``, shape ``(y_res, x_res)``: row 0 is the lowest mel band,
as in the seed (a PIL image of them shows low frequencies at the top).

Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._validate import check_int, check_number, check_sample_rate, describe

__all__ = [
    "Mel",
    "MelFrames",
    "empty_filters",
    "from_unit",
    "images_to_audio",
    "inversion_gain",
    "round_trip",
    "to_images",
    "to_unit",
]


class Mel:
    """Audio slices <-> 8-bit mel-spectrogram images, with the seed's parameters and methods.

    Args:
        x_res: image width, in STFT frames (time).
        y_res: image height, in mel bands (frequency).
        sample_rate: sample rate of the audio, in Hz.
        n_fft: STFT window and FFT size, in samples.
        hop_length: samples between frames (a slice lasts about ``x_res * hop_length``).
        top_db: dynamic range of the image, in dB below the slice's loudest bin.
        n_iter: Griffin-Lim iterations of :meth:`image_to_audio`.
        seed: seed of Griffin-Lim's random starting phase (keyword only; not in the seed's
            contract, where librosa draws it from a fresh, unseeded generator each call).

    Example::

        mel = tl.mel.Mel(x_res=64, y_res=64, sample_rate=16000, n_fft=1024, hop_length=256)
        mel.load_audio(raw_audio=clip)              # (T,) float
        image = mel.audio_slice_to_image(0)         # (64, 64) uint8
        audio = mel.image_to_audio(image)           # (64 * 256 - 1,) float32, Griffin-Lim

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """

    def __init__(
        self,
        x_res: int = 256,
        y_res: int = 256,
        sample_rate: int = 22050,
        n_fft: int = 2048,
        hop_length: int = 512,
        top_db: int = 80,
        n_iter: int = 32,
        *,
        seed: int = 0,
    ) -> None:
        self.hop_length = check_int(hop_length, "hop_length", min_value=1)
        self.sr = check_sample_rate(sample_rate, "sample_rate")
        self.n_fft = check_int(n_fft, "n_fft", min_value=2)
        if self.hop_length > self.n_fft:
            raise ValueError(
                f"hop_length: {hop_length} is larger than n_fft = {n_fft}, so samples between "
                f"windows would be ignored. Fix: hop_length <= n_fft (n_fft // 4 is usual)."
            )
        self.top_db = check_number(top_db, "top_db", low=0.0, low_open=True)
        self.n_iter = check_int(n_iter, "n_iter", min_value=1)
        self.seed = check_int(seed, "seed", min_value=0, max_value=2**32 - 1)
        self.audio: np.ndarray | None = None
        self.set_resolution(x_res, y_res)

    def __repr__(self) -> str:
        return (
            f"Mel(x_res={self.x_res}, y_res={self.y_res}, sample_rate={self.sr}, "
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, top_db={self.top_db:g}, "
            f"n_iter={self.n_iter}, seed={self.seed}; slice = {self.slice_size} samples = "
            f"{self.slice_size / self.sr:.3f} s)"
        )

    def set_resolution(self, x_res: int, y_res: int) -> None:
        """Set the image size: ``x_res`` frames (time) by ``y_res`` mel bands (frequency).

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        self.x_res = check_int(x_res, "x_res", min_value=1)
        self.y_res = check_int(y_res, "y_res", min_value=1)
        if self.y_res > self.n_fft // 2 + 1:
            raise ValueError(
                f"y_res: {y_res} mel bands from an STFT of {self.n_fft // 2 + 1} bins leaves "
                f"empty bands. Fix: y_res <= n_fft // 2 + 1, or a larger n_fft."
            )
        self.n_mels = self.y_res
        self.slice_size = self.x_res * self.hop_length - 1

    def load_audio(
        self, audio_file: str | os.PathLike | None = None, raw_audio: Any = None
    ) -> None:
        """Load a file (mono, resampled to ``sample_rate`` by librosa) or take ``raw_audio``.

        Audio shorter than one slice is padded with silence, as in the seed.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        if (audio_file is None) == (raw_audio is None):
            raise TypeError(
                "load_audio: pass exactly one of audio_file (a path) and raw_audio (a 1-D "
                "array of samples)."
            )
        if audio_file is not None:
            import librosa

            if not os.path.isfile(audio_file):
                raise FileNotFoundError(f"audio_file: no file at {str(audio_file)!r}.")
            audio, _ = librosa.load(audio_file, mono=True, sr=self.sr)
        else:
            if type(raw_audio).__module__.startswith("torch"):
                raw_audio = raw_audio.detach().cpu().numpy()
            audio = np.asarray(raw_audio)
            if audio.ndim == 2 and audio.shape[0] == 1:
                audio = audio[0]
            if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
                raise ValueError(
                    f"raw_audio: expected mono float samples of shape (T,), got "
                    f"{describe(raw_audio)}. Fix: tl.audio.to_mono(x)[0].numpy()."
                )
            if not np.all(np.isfinite(audio)):
                raise ValueError("raw_audio: holds NaN or Inf samples.")
        if len(audio) < self.x_res * self.hop_length:
            pad = np.zeros((self.x_res * self.hop_length - len(audio),))
            audio = np.concatenate([audio, pad])
        self.audio = audio

    def _need_audio(self) -> np.ndarray:
        if self.audio is None:
            raise RuntimeError("no audio loaded. Fix: mel.load_audio(raw_audio=x) first.")
        return self.audio

    def get_number_of_slices(self) -> int:
        """How many whole slices of ``slice_size`` samples the loaded audio holds.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        return len(self._need_audio()) // self.slice_size

    def get_audio_slice(self, slice: int = 0) -> np.ndarray:  # noqa: A002 (the seed's name)
        """Samples ``[slice * slice_size, (slice + 1) * slice_size)`` of the loaded audio.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        n = self.get_number_of_slices()
        slice = check_int(slice, "slice", min_value=0)
        if slice >= n:
            raise ValueError(
                f"slice: {slice} is past the last slice; the audio holds {n} slice(s) of "
                f"{self.slice_size} samples. Fix: slice in range(mel.get_number_of_slices())."
            )
        return self._need_audio()[self.slice_size * slice : self.slice_size * (slice + 1)]

    def get_sample_rate(self) -> int:
        """The sample rate, in Hz.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        return self.sr

    def audio_slice_to_image(self, slice: int) -> np.ndarray:  # noqa: A002
        """The 8-bit mel-spectrogram image of one slice: ``uint8`` array ``(y_res, x_res)``.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        import librosa

        y = self.get_audio_slice(slice)
        if not np.any(y):
            raise ValueError(
                f"slice: slice {slice} is silent, and an image is normalised to its own "
                f"loudest bin, which does not exist. Fix: skip silent slices."
            )
        S = librosa.feature.melspectrogram(
            y=y, sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )
        log_S = librosa.power_to_db(S, ref=np.max, top_db=self.top_db)
        return (((log_S + self.top_db) * 255 / self.top_db).clip(0, 255) + 0.5).astype(np.uint8)

    def image_to_db(self, image: Any) -> np.ndarray:
        """An image's bytes back to dB in ``[-top_db, 0]``: float64 ``(y_res, x_res)``.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        data = self._image_bytes(image)
        return data.astype("float") * self.top_db / 255 - self.top_db

    def _image_bytes(self, image: Any) -> np.ndarray:
        if hasattr(image, "tobytes") and hasattr(image, "height") and hasattr(image, "width"):
            data = np.frombuffer(image.tobytes(), dtype="uint8").reshape(
                (image.height, image.width)
            )  # a PIL image, as the seed's code passes
        else:
            data = np.asarray(image)
        if data.dtype != np.uint8:
            raise TypeError(
                f"image: expected 8-bit bytes (uint8), got {describe(image)}. Fix: "
                f"np.clip(x, 0, 255).round().astype(np.uint8) for a float image in [0, 255]."
            )
        if data.shape != (self.y_res, self.x_res):
            raise ValueError(
                f"image: expected shape (y_res, x_res) = ({self.y_res}, {self.x_res}), got "
                f"{describe(image)}. Fix: a Mel with x_res={data.shape[-1] if data.ndim else '?'}"
                f" and y_res={data.shape[0] if data.ndim else '?'}, or resize the image."
            )
        return data

    def image_to_audio(self, image: Any, *, phase: Any = None) -> np.ndarray:
        """Audio from an image: dB -> power -> linear STFT magnitude -> Griffin-Lim.

        Args:
            image: ``uint8`` array ``(y_res, x_res)`` (or a PIL image of it).
            phase: (optional) an STFT phase ``(n_fft // 2 + 1, x_res)`` in radians to use
                instead of estimating one (for measuring what the lost phase costs).

        Returns:
            float32 samples ``(x_res * hop_length - hop_length,)`` as librosa's inverse gives
            them (Griffin-Lim seeded with ``seed``, so a round trip is reproducible).

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        import librosa

        power = librosa.db_to_power(self.image_to_db(image))
        mag = librosa.feature.inverse.mel_to_stft(
            power, sr=self.sr, n_fft=self.n_fft, power=2.0
        )  # the same steps as librosa.feature.inverse.mel_to_audio
        if phase is not None:
            phase = np.asarray(phase)
            if phase.shape != mag.shape:
                raise ValueError(
                    f"phase: expected shape {mag.shape} (n_fft // 2 + 1, x_res), got "
                    f"{describe(phase)}."
                )
            return librosa.istft(mag * np.exp(1j * phase), hop_length=self.hop_length).astype(
                np.float32
            )
        return librosa.griffinlim(
            mag, n_iter=self.n_iter, hop_length=self.hop_length, random_state=self.seed
        ).astype(np.float32)


def to_images(clips: Any, mel: Mel) -> np.ndarray:
    """The first slice of each clip as an image: ``(n, C, T)`` or ``(n, T)`` -> uint8 ``(n, y_res, x_res)``.

    Clips shorter than a slice are refused (:meth:`Mel.load_audio` pads them with silence,
    as the seed does, which silently changes what the picture shows); so is a silent clip
    (it has no loudest bin to normalise to).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    if not isinstance(mel, Mel):
        raise TypeError(f"mel: expected a tl.mel.Mel, got {describe(mel)}.")
    if type(clips).__module__.startswith("torch"):
        clips = clips.detach().cpu().numpy()
    arr = np.asarray(clips)
    if arr.ndim == 3:
        if arr.shape[1] != 1:
            raise ValueError(
                f"clips: expected mono clips (n, 1, T), got {describe(clips)}. "
                f"Fix: tl.audio.to_mono(clips)."
            )
        arr = arr[:, 0]
    if arr.ndim != 2 or arr.shape[0] < 1 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"clips: expected float clips (n, 1, T) or (n, T), got {describe(clips)}.")
    if arr.shape[-1] < mel.slice_size:
        raise ValueError(
            f"clips: {arr.shape[-1]} samples are shorter than one slice of {mel.slice_size} "
            f"(x_res * hop_length - 1). Fix: tl.audio.fix_length(clips, {mel.slice_size}) to pad "
            f"with silence on purpose, or a Mel with a smaller x_res or hop_length."
        )
    out = np.empty((arr.shape[0], mel.y_res, mel.x_res), dtype=np.uint8)
    for i, clip in enumerate(arr):
        mel.load_audio(raw_audio=clip.astype(np.float64))
        try:
            out[i] = mel.audio_slice_to_image(0)
        except ValueError as err:
            raise ValueError(f"clips: clip {i}: {err}") from None
    return out


def to_unit(images: Any) -> Any:
    """8-bit images ``(n, H, W)`` -> a float tensor ``(n, 1, H, W)`` in [-1, 1] (the model's space).

    ``byte / 127.5 - 1``, as the seed's training data (``Normalize([0.5], [0.5])`` of
    ``ToTensor``).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise TypeError(f"images: expected uint8 images (n, H, W), got {describe(images)}.")
    return torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0)[:, None]


def from_unit(x: Any) -> np.ndarray:
    """The model's images in [-1, 1] ``(n, 1, H, W)`` -> 8-bit images ``(n, H, W)`` (rounded, clipped).

    The seed's ``((x / 2 + 0.5).clamp(0, 1) * 255).round().astype("uint8")``.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1:
        raise TypeError(f"x: expected a tensor (n, 1, H, W) in [-1, 1], got {describe(x)}.")
    y = ((x.detach().float().cpu() / 2 + 0.5).clamp(0, 1) * 255).round()
    return y[:, 0].numpy().astype(np.uint8)


def images_to_audio(
    images: Any, mel: Mel, *, length: int | None = None, peak: float | None = None
) -> Any:
    """Griffin-Lim audio of each image: uint8 ``(n, H, W)`` -> float tensor ``(n, 1, length)``.

    Args:
        images: 8-bit images ``(n, y_res, x_res)`` (:func:`from_unit` of a model's output).
        mel: the :class:`Mel` that made the images (its ``n_iter`` and ``seed`` are used).
        length: pad (or cut) each clip to this many samples (default: Griffin-Lim's
            ``(x_res - 1) * hop_length``).
        peak: scale each clip to this peak (an image holds no absolute level, so a level
            has to be chosen); ``None`` leaves Griffin-Lim's level.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    if not isinstance(mel, Mel):
        raise TypeError(f"mel: expected a tl.mel.Mel, got {describe(mel)}.")
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ValueError(f"images: expected uint8 images (n, H, W), got {describe(images)}.")
    clips = [mel.image_to_audio(img) for img in arr]
    n = clips[0].shape[-1] if length is None else check_int(length, "length", min_value=1)
    out = np.zeros((len(clips), 1, n), dtype=np.float32)
    for i, c in enumerate(clips):
        c = c[:n]
        if peak is not None:
            top = float(np.max(np.abs(c)))
            c = (
                c * (check_number(peak, "peak", low=0.0, high=1.0, low_open=True) / top)
                if top > 0
                else c
            )
        out[i, 0, : len(c)] = c
    return torch.from_numpy(out)


def round_trip(
    clip: Any,
    mel: Mel,
    *,
    mel_scale: bool = True,
    quantize: bool = True,
    phase: str = "griffin-lim",
) -> np.ndarray:
    """Audio -> picture -> audio for the first slice of ``clip``, with each loss switchable.

    The picture route loses three things; switch them off one at a time to see what each
    costs:

    - ``mel_scale``: the STFT's ``n_fft // 2 + 1`` bins pooled into ``y_res`` mel bands (and
      spread back by ``librosa.feature.inverse.mel_to_stft``); ``False`` keeps the linear
      STFT power;
    - ``quantize``: dB rounded to 256 levels (the 8-bit image, a step of ``top_db / 255``
      dB); ``False`` keeps float dB (still clipped at ``-top_db``);
    - ``phase``: ``"griffin-lim"`` (``mel.n_iter`` iterations, seeded) or ``"true"`` (the
      slice's own STFT phase).

    With everything on it is exactly ``mel.image_to_audio(mel.audio_slice_to_image(0))``.
    The picture holds no level, so the result is scaled to the slice's RMS, and padded to the
    slice's length (``x_res * hop_length - 1`` samples), ready to compare with it.

    Returns:
        float32 samples ``(slice_size,)``.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import librosa

    if not isinstance(mel, Mel):
        raise TypeError(f"mel: expected a tl.mel.Mel, got {describe(mel)}.")
    if phase not in ("griffin-lim", "true"):
        raise ValueError(f"phase: expected 'griffin-lim' or 'true', got {phase!r}.")
    n = np.asarray(clip).shape[-1] if np.ndim(clip) else 0
    if n < mel.slice_size:
        raise ValueError(
            f"clip: {n} samples are shorter than one slice of {mel.slice_size} samples "
            f"(x_res * hop_length - 1). Fix: a longer clip, or a Mel with a smaller x_res."
        )
    mel.load_audio(raw_audio=clip)
    y = mel.get_audio_slice(0)
    spec = librosa.stft(y, n_fft=mel.n_fft, hop_length=mel.hop_length)
    power = np.abs(spec) ** 2
    if mel_scale:
        power = librosa.feature.melspectrogram(S=power, sr=mel.sr, n_mels=mel.n_mels)
    if not np.any(power):
        raise ValueError("clip: its first slice is silent; there is no picture to make.")
    db = librosa.power_to_db(power, ref=np.max, top_db=mel.top_db)
    if quantize:
        db = (((db + mel.top_db) * 255 / mel.top_db).clip(0, 255) + 0.5).astype(np.uint8)
        db = db.astype("float") * mel.top_db / 255 - mel.top_db
    power = librosa.db_to_power(db)
    if mel_scale:
        mag = librosa.feature.inverse.mel_to_stft(power, sr=mel.sr, n_fft=mel.n_fft, power=2.0)
    else:
        mag = np.sqrt(power)
    if phase == "true":
        out = librosa.istft(mag * np.exp(1j * np.angle(spec)), hop_length=mel.hop_length)
    else:
        out = librosa.griffinlim(
            mag, n_iter=mel.n_iter, hop_length=mel.hop_length, random_state=mel.seed
        )
    out = librosa.util.fix_length(out.astype(np.float64), size=len(y))
    rms_in, rms_out = np.sqrt(np.mean(y**2)), np.sqrt(np.mean(out**2))
    return (out * (rms_in / rms_out if rms_out > 0 else 1.0)).astype(np.float32)


def inversion_gain(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """What the mel inversion does to a flat spectrum: the gain of each STFT bin, in dB.

    A flat power spectrum (every bin 1) is pooled into ``n_mels`` bands and spread back with
    ``librosa.feature.inverse.mel_to_stft`` (a non-negative least-squares fit), as
    ``Mel.image_to_audio`` does. A good setting gives about 0 dB everywhere; a badly chosen
    one (too many bands for the FFT's bins) gives a comb of peaks and deep holes: the energy
    of a band lands in a few isolated bins, heard as steady tones (the "whistle").

    Returns:
        the gain in dB of bins ``1 .. n_fft // 2 - 1`` (DC and Nyquist left out), floored
        at -100 dB.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import warnings

    import librosa

    sr = check_sample_rate(sample_rate, "sample_rate")
    n_fft = check_int(n_fft, "n_fft", min_value=4)
    n_mels = check_int(n_mels, "n_mels", min_value=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about empty filters, counted apart
        bands = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels) @ np.ones(
            (n_fft // 2 + 1, 1)
        )
        back = librosa.feature.inverse.mel_to_stft(bands, sr=sr, n_fft=n_fft, power=2.0)
    power = back[1:-1, 0] ** 2
    return 10 * np.log10(np.maximum(power, 1e-10))


def empty_filters(sample_rate: int, n_fft: int, n_mels: int) -> int:
    """How many of librosa's ``n_mels`` mel filters fall between the FFT's bins (all zero).

    Too many mel bands for the FFT's resolution: the lowest bands are narrower than a bin
    (``sample_rate / n_fft`` Hz), some catch no bin at all, and the inversion has nothing to
    put there.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import warnings

    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about exactly this
        fb = librosa.filters.mel(sr=check_sample_rate(sample_rate, "sample_rate"),
                                 n_fft=check_int(n_fft, "n_fft", min_value=2),
                                 n_mels=check_int(n_mels, "n_mels", min_value=1))  # fmt: skip
    return int((fb.max(axis=1) == 0).sum())


class MelFrames:
    """Spectrogram Diffusion's features: log mel *magnitudes*, frame by frame, scaled to [-1, 1].

    The original's settings (Hawthorne et al. 2022) are the defaults: 16 kHz audio, a 640-sample
    Hann window in a 1024-point FFT, hop 320 (50 frames per second), 128 mel bands from 0 to
    8 kHz (HTK mel scale, unnormalised triangles). A feature is ``log(max(mel, 1e-5))``, mapped
    linearly from ``[log(1e-5), 4.0]`` to ``[-1, 1]`` and clipped, so it keeps absolute level
    (silence is -1), unlike chapter 4's per-image dB.

    :meth:`__call__` gives ``(B, frames, n_mels)`` with ``frames = N // hop`` (the last centred
    frame dropped, so frames tile the clip); :meth:`to_audio` goes back: unscale, the mel
    filters' pseudo-inverse for a linear magnitude, Griffin-Lim for a phase.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        n_fft: int = 1024,
        win_length: int = 640,
        hop_length: int = 320,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = 8000.0,
        floor: float = 1e-5,
        top: float = 4.0,
        n_iter: int = 32,
    ) -> None:
        self.sample_rate = check_sample_rate(sample_rate, "sample_rate")
        self.n_fft = check_int(n_fft, "n_fft", min_value=16)
        self.win_length = check_int(win_length, "win_length", min_value=2, max_value=self.n_fft)
        self.hop_length = check_int(hop_length, "hop_length", min_value=1)
        self.n_mels = check_int(n_mels, "n_mels", min_value=1)
        self.fmin = check_number(fmin, "fmin", low=0.0)
        self.fmax = float(fmax) if fmax is not None else self.sample_rate / 2
        if not self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"fmax: must be above fmin and at most sr/2, got {fmax}.")
        self.floor = check_number(floor, "floor", low=0.0, low_open=True)
        self.top = check_number(top, "top")
        if self.top <= np.log(self.floor):
            raise ValueError(f"top: must be above log(floor) = {np.log(self.floor):.2f}.")
        self.n_iter = check_int(n_iter, "n_iter", min_value=0)
        import librosa

        self.filters = librosa.filters.mel(
            sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin,
            fmax=self.fmax, htk=True, norm=None,
        ).astype(np.float32)  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"MelFrames(sample_rate={self.sample_rate}, n_fft={self.n_fft}, win_length="
            f"{self.win_length}, hop_length={self.hop_length}, n_mels={self.n_mels}, "
            f"fmax={self.fmax:g})"
        )

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def _torch_filters(self, device: Any) -> Any:
        import torch

        return torch.from_numpy(self.filters).to(device)

    def magnitudes(self, audio: Any) -> Any:
        """Audio ``(B, N)`` or ``(B, 1, N)`` -> mel magnitudes ``(B, frames, n_mels)``."""
        import torch

        x = torch.as_tensor(audio).float()
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 2 or x.shape[-1] < self.hop_length:
            raise ValueError(
                f"audio: expected mono clips (B, N) or (B, 1, N) of at least one hop "
                f"({self.hop_length} samples), got {describe(audio)}."
            )
        window = torch.hann_window(self.win_length, device=x.device)
        spec = torch.stft(x, self.n_fft, self.hop_length, self.win_length, window=window,
                          center=True, pad_mode="constant", return_complex=True)  # fmt: skip
        frames = x.shape[-1] // self.hop_length
        mag = spec.abs()[..., :frames]
        return torch.einsum("mf,bft->btm", self._torch_filters(x.device), mag)

    def scale(self, mel: Any) -> Any:
        """Mel magnitudes -> features in [-1, 1]."""
        import torch

        lo = float(np.log(self.floor))
        f = torch.log(torch.as_tensor(mel).clamp_min(self.floor))
        return ((f - lo) / (self.top - lo) * 2 - 1).clamp(-1, 1)

    def unscale(self, features: Any) -> Any:
        """Features in [-1, 1] -> mel magnitudes (values at -1 become the floor)."""
        import torch

        lo = float(np.log(self.floor))
        f = torch.as_tensor(features).float().clamp(-1, 1)
        return torch.exp((f + 1) / 2 * (self.top - lo) + lo)

    def __call__(self, audio: Any) -> Any:
        """Audio ``(B, N)`` or ``(B, 1, N)`` -> features ``(B, N // hop, n_mels)`` in [-1, 1]."""
        return self.scale(self.magnitudes(audio))

    def to_audio(self, features: Any, *, n_iter: int | None = None, seed: int | None = 0) -> Any:
        """Features ``(B, frames, n_mels)`` -> audio ``(B, frames * hop)`` (Griffin-Lim)."""
        import torch

        from .audio import griffin_lim

        f = torch.as_tensor(features).float()
        if f.ndim != 3 or f.shape[-1] != self.n_mels:
            raise ValueError(
                f"features: expected (B, frames, {self.n_mels}), got {describe(features)}."
            )
        mel = self.unscale(f) - self.floor  # silence back to 0
        pinv = torch.linalg.pinv(self._torch_filters(f.device))  # (bins, n_mels)
        mag = torch.einsum("fm,btm->bft", pinv, mel).clamp_min(0)
        mag = torch.nn.functional.pad(mag, (0, 1))  # the dropped last centred frame
        return griffin_lim(
            mag, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
            length=f.shape[1] * self.hop_length,
            n_iter=self.n_iter if n_iter is None else n_iter, seed=seed,
        )  # fmt: skip
