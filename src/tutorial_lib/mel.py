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
  draws it from NumPy's global generator.)

Images are NumPy arrays of ``uint8``, shape ``(y_res, x_res)``: row 0 is the lowest mel band,
as in the seed (a PIL image of them shows low frequencies at the top).

Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._validate import check_int, check_number, check_sample_rate, describe

__all__ = ["Mel"]


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
            contract, which leaves it to NumPy's global generator).

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
