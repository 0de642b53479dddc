"""The Audio Diffusion pipeline's one call, on the book's pieces (chapter 4).

A user of Robert Dargavel Smith's Audio Diffusion (diffusers' ``AudioDiffusionPipeline``,
now deprecated) knows one object: ``pipe(...)`` generates, makes variations of a slice of a
file (``start_step``), keeps its start or end while generating the rest
(``mask_start_secs``/``mask_end_secs``), and returns the mel images, the audio and the sample
rate; ``pipe.encode(images)`` finds the noise behind images (DDIM inversion) and
``pipe.slerp`` interpolates between two noises. :class:`AudioDiffusionPipeline` offers that
call with the same arguments, defaults and outputs, computed by the book's own parts:
``tl.mel.Mel`` (byte-identical to the seed's), ``tl.samplers.ddim_sample`` /
``ddim_inpaint`` / ``ddim_invert`` and chapter 4's network (``drums-mel``)::

    pipe = tl.pipelines.AudioDiffusionPipeline()
    out = pipe(batch_size=2, generator=torch.Generator().manual_seed(0))
    out.images[0], out.audios.shape, out.sample_rate          # PIL image, (2, 1, 8064), 16000
    var = pipe(raw_audio=clip, start_step=25, generator=torch.Generator().manual_seed(1))
    loop = pipe(raw_audio=clip, mask_start_secs=0.1, generator=torch.Generator().manual_seed(2))
    cond = tl.pipelines.AudioDiffusionPipeline(tl.families.drums_mel.load("drums-mel-cond"))
    kicks = cond(batch_size=2, encoding="kick", generator=torch.Generator().manual_seed(3))

Where the book's call differs from the seed's, on purpose (each written in chapter 4):

- ``start_step`` noises the input to the level of the first step it runs (the seed: one step
  noisier than the network is told), and every item of the batch (the seed: only the first,
  the others start from pure noise); without an input it is an error (the seed silently
  starts from pure noise at a lower noise level).
- The kept region of a mask is re-noised to the level each step reaches (the seed: the level
  of the step it just left, so the kept region ends with the last step's noise in it).
- DDIM visits "trailing" timesteps (999, 979, ..., 19 for 50 steps: the first step starts
  from pure noise); the seed's scheduler of that time spaced them "leading" (980, ..., 0).
- ``encoding`` (the seed's ``UNet2DConditionModel`` path) conditions a network trained for
  it. The seed's is an embedding ``(batch, 1, dim)`` from an audio encoder, given to the
  network's cross-attention; the book's conditional mel model (``drums-mel-cond``) learns one
  embedding per drum class, so its ``encoding`` is the class: a name, an index, or one per
  item (``-1``/``None``: no class), with classifier-free guidance (the pipeline's
  ``guidance``, default ``drums_mel.SAMPLING["guidance"]``); a guided step takes its noise
  direction from the clamped picture (``drums_mel.clamp_options``: the seed's step, which
  keeps the network's, makes guided pictures drift brighter). The unconditional
  ``drums-mel`` refuses an encoding.
- Images are scaled like the seed's (``(x / 2 + 0.5)`` clamped, ``* 255`` rounded) and
  Griffin-Lim is seeded (``Mel.image_to_audio``), so the same generator gives the same audio.

Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from ._validate import check_choice, check_int, check_number, describe
from .config import device_of
from .mel import from_unit, to_unit

__all__ = ["AudioDiffusionPipeline", "PipelineOutput"]


@dataclasses.dataclass
class PipelineOutput:
    """What :class:`AudioDiffusionPipeline` returns (with ``return_dict=True``).

    Attributes:
        images: the generated mel images, one ``PIL.Image`` (mode ``"L"``, ``y_res`` x
            ``x_res``) per item, as the seed's ``output.images``.
        audios: the audio, ``(batch, 1, samples)`` float array, as the seed's ``output.audios``.
        sample_rate: in Hz (the seed returns it as ``pipe.mel.get_sample_rate()``).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """

    images: list[Any]
    audios: np.ndarray
    sample_rate: int


class AudioDiffusionPipeline:
    """The Audio Diffusion pipeline's call (``__call__``, ``encode``, ``slerp``) on a book network.

    Args:
        model: the image network (``(x, t[, class]) -> v``; default: the reference
            ``drums-mel``; ``drums_mel.load("drums-mel-cond")`` takes an ``encoding``).
        mel: the :class:`~tutorial_lib.mel.Mel` of its images (default: the family's).
        prediction: what ``model`` predicts (default: the family's, ``"v"``).
        guidance: classifier-free guidance weight when an ``encoding`` asks a conditional
            model for a class (default: the family's ``SAMPLING["guidance"]``).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """

    def __init__(
        self,
        model: Any = None,
        mel: Any = None,
        *,
        prediction: str | None = None,
        guidance: float | None = None,
    ):
        import torch

        from .families import drums_mel
        from .mel import Mel

        if model is not None and not isinstance(model, torch.nn.Module):
            raise TypeError(
                f"model: expected the image network (a torch.nn.Module), got {describe(model)}. "
                f"Fix: leave it out for the reference drums-mel."
            )
        if mel is not None and not isinstance(mel, Mel):
            raise TypeError(f"mel: expected a tl.mel.Mel, got {describe(mel)}.")
        self.unet = drums_mel.load() if model is None else model
        self.mel = drums_mel.mel() if mel is None else mel
        from .objectives import PREDICTIONS

        self.prediction = (drums_mel.PREDICTION if prediction is None
                           else check_choice(prediction, "prediction", PREDICTIONS))  # fmt: skip
        self._fam = drums_mel
        self.guidance = (drums_mel.SAMPLING["guidance"] if guidance is None
                         else check_number(guidance, "guidance", low=0.0))  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"AudioDiffusionPipeline({type(self.unet).__name__}, {self.mel!r}, "
            f"prediction={self.prediction!r})"
        )

    def get_default_steps(self) -> int:
        """The steps the seed recommends for its DDIM scheduler: 50.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        return 50

    def _input_image(self, audio_file: Any, raw_audio: Any, slice_: int) -> Any:
        """The slice's 8-bit image as the network sees it: ``(1, 1, y_res, x_res)`` in [-1, 1]."""

        if audio_file is not None and not isinstance(audio_file, str | os.PathLike):
            raise TypeError(f"audio_file: expected a path, got {describe(audio_file)}.")
        self.mel.load_audio(audio_file=audio_file, raw_audio=raw_audio)
        n = self.mel.get_number_of_slices()
        slice_ = check_int(slice_, "slice", min_value=0)
        if slice_ >= n:
            raise ValueError(
                f"slice: the audio holds {n} slice(s) of {self.mel.slice_size} samples, got "
                f"slice={slice_}. Fix: a slice in 0..{n - 1}."
            )
        return to_unit(np.asarray(self.mel.audio_slice_to_image(slice_), dtype=np.uint8)[None])

    def __call__(
        self,
        batch_size: int = 1,
        audio_file: str | None = None,
        raw_audio: np.ndarray | None = None,
        slice: int = 0,  # noqa: A002 (the seed's name)
        start_step: int = 0,
        steps: int | None = None,
        generator: Any = None,
        mask_start_secs: float = 0,
        mask_end_secs: float = 0,
        step_generator: Any = None,
        eta: float = 0,
        noise: Any = None,
        encoding: Any = None,
        return_dict: bool = True,
    ) -> PipelineOutput | tuple[list[Any], tuple[int, np.ndarray]]:
        """Generate (or vary, or in/outpaint) mel images and their audio, as the seed's call.

        Args:
            batch_size: images to make.
            audio_file, raw_audio: an input (a file, or a mono array at the mel's rate); its
                ``slice`` (``mel.slice_size`` samples) is the image that ``start_step`` and the
                masks keep.
            start_step: skip this many of the ``steps`` (with an input: a variation of it;
                0 ignores the input outside the masks).
            steps: DDIM steps (default :meth:`get_default_steps`).
            generator: a ``torch.Generator`` for the starting noise (and the steps' fresh
                noise when ``step_generator`` is ``None``).
            mask_start_secs, mask_end_secs: seconds of the input kept at the start / end
                (``int(secs * sample_rate / hop_length)`` image columns, the seed's rounding).
            step_generator: a ``torch.Generator`` for the steps' fresh noise (``eta > 0``).
            eta: DDIM's stochasticity in [0, 1].
            noise: the starting noise ``(batch_size, 1, y_res, x_res)`` instead of drawing it.
            encoding: for a class-conditional network (``drums-mel-cond``): the class of
                every item (a name or index), or one per item (``-1``/``None``: no class);
                ``None`` for the unconditional ``drums-mel``.
            return_dict: return a :class:`PipelineOutput`; else the seed's tuple
                ``(images, (sample_rate, audios))``.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        import torch

        from . import samplers

        batch_size = check_int(batch_size, "batch_size", min_value=1)
        steps = self.get_default_steps() if steps is None else steps
        steps = check_int(steps, "steps", min_value=1, max_value=1000)
        start_step = check_int(start_step, "start_step", min_value=0, max_value=steps - 1)
        eta = check_number(eta, "eta", low=0.0, high=1.0)
        secs = [check_number(mask_start_secs, "mask_start_secs", low=0.0),
                check_number(mask_end_secs, "mask_end_secs", low=0.0)]  # fmt: skip
        for g, name in ((generator, "generator"), (step_generator, "step_generator")):
            if g is not None and not isinstance(g, torch.Generator):
                raise TypeError(
                    f"{name}: expected a torch.Generator or None, got {describe(g)}. "
                    f"Fix: {name}=torch.Generator().manual_seed(0)."
                )
        if encoding is not None and getattr(self.unet, "classes", None) is None:
            raise ValueError(
                "encoding: the seed passes it to a conditional network (UNet2DConditionModel); "
                "this mel network is unconditional and takes none. Fix: encoding=None, or the "
                "class-conditional model: AudioDiffusionPipeline(drums_mel.load('drums-mel-cond'))."
            )
        try:
            labels = self._fam.labels_of(self.unet, encoding, batch_size)
        except ValueError as err:
            raise ValueError(str(err).replace("class_labels:", "encoding:", 1)) from None
        if not isinstance(return_dict, bool):
            raise TypeError(f"return_dict: expected True or False, got {describe(return_dict)}.")
        step_generator = step_generator or generator
        shape = (batch_size, 1, self.mel.y_res, self.mel.x_res)
        if noise is None:
            noise = torch.randn(shape, generator=generator)
        elif not isinstance(noise, torch.Tensor) or tuple(noise.shape) != shape:
            raise ValueError(f"noise: expected a tensor {shape}, got {describe(noise)}.")
        has_input = audio_file is not None or raw_audio is not None
        if not has_input and (start_step > 0 or any(secs)):
            raise ValueError(
                f"start_step={start_step}, mask_start_secs={secs[0]}, mask_end_secs={secs[1]}: "
                f"these keep part of an input, and there is none. Fix: pass audio_file or "
                f"raw_audio (the seed would start from pure noise at a lower noise level)."
            )
        common = dict(steps=steps, eta=eta, prediction=self.prediction, generator=step_generator,
                      start_step=start_step,
                      **self._fam.clamp_options(labels, self.guidance))  # fmt: skip
        device = device_of(self.unet)
        net = self._fam.conditioned(self.unet, labels, self.guidance)
        noise = noise.float().to(device)
        ab = self._fam.alpha_bars()
        if not has_input:
            x = samplers.ddim_sample(net, noise, ab, **common)
        else:
            known = self._input_image(audio_file, raw_audio, slice).expand(shape).to(device)
            per_second = self.mel.get_sample_rate() / self.mel.hop_length
            cols = [int(s * per_second) for s in secs]
            width = self.mel.x_res
            if cols[0] + cols[1] > width:
                raise ValueError(
                    f"mask_start_secs + mask_end_secs: {secs[0] + secs[1]:g} s keep "
                    f"{cols[0] + cols[1]} columns of an image of {width} "
                    f"({width / per_second:.3f} s). Fix: keep less."
                )
            if any(cols):
                mask = torch.zeros(width, dtype=torch.bool, device=device)
                mask[: cols[0]] = True
                mask[width - cols[1] :] = True
                mask = mask.expand(batch_size, 1, 1, width)
                x = samplers.ddim_inpaint(net, noise, ab, known=known, mask=mask, **common)
            else:
                x = samplers.ddim_sample(net, noise, ab, init=known, **common)
        return self._outputs(x.cpu(), return_dict)

    def _outputs(self, x: Any, return_dict: bool) -> Any:
        from PIL import Image

        pixels = from_unit(x)  # the seed's rounding to 8 bits, (n, H, W)
        images = [Image.fromarray(p) for p in pixels]
        audios = np.stack([self.mel.image_to_audio(p) for p in pixels])[:, None, :]
        if not return_dict:
            return images, (self.mel.get_sample_rate(), audios)
        return PipelineOutput(images=images, audios=audios, sample_rate=self.mel.get_sample_rate())

    def encode(self, images: list[Any], steps: int = 50) -> Any:
        """DDIM inversion of mel images (the seed's ``encode``): ``(n, 1, y_res, x_res)`` noise.

        Args:
            images: PIL images (or ``uint8`` arrays) of the mel's size, as ``__call__`` returns.
            steps: inversion steps.

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """

        from . import samplers

        if not isinstance(images, list | tuple) or not images:
            raise TypeError(f"images: expected a non-empty list of images, got {describe(images)}.")
        arrays = [np.asarray(im, dtype=np.uint8) for im in images]
        want = (self.mel.y_res, self.mel.x_res)
        for i, a in enumerate(arrays):
            if a.shape != want:
                raise ValueError(f"images[{i}]: expected {want} pixels, got {a.shape}.")
        x = to_unit(np.stack(arrays))
        device = device_of(self.unet)
        steps = check_int(steps, "steps", min_value=1, max_value=1000)
        z = samplers.ddim_invert(
            self.unet, x.to(device), self._fam.alpha_bars(), steps=steps, prediction=self.prediction
        )
        return z.cpu()

    @staticmethod
    def slerp(x0: Any, x1: Any, alpha: float) -> Any:
        """Spherical interpolation between two noises (``tl.samplers.slerp``).

        Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
        """
        from .samplers import slerp

        return slerp(x0, x1, alpha)
