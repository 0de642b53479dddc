"""Chapter 6's family: MIDI in, mel frames out, with a spectrogram-diffusion decoder.

A small PyTorch Spectrogram Diffusion (Hawthorne et al. 2022) that trains on a CPU:

- **data**: ``tl.data.midi`` clips (melody, chords, bass, drums) rendered by the SoundFont at
  16 kHz with ``level="fixed"`` (no per-clip normalisation: loudness follows the notes);
- **features**: ``tl.mel.MelFrames`` (the original's: hop 320, 50 frames/s, 128 bands,
  log magnitude scaled to [-1, 1]); **segments** of :data:`FRAMES` frames (1.28 s; 5.12 s in
  the original) with their notes as tokens (``tl.tokens``, :data:`VOCAB`);
- **model**: :class:`~tutorial_lib.models.note_decoder.NoteDecoder` (notes encoder, context
  encoder over the previous segment's frames, FiLM decoder) that also reads the notes' piano
  roll on the frame grid (``tl.tokens.roll``; the original has cross-attention only, which
  this CPU budget does not teach to align frames with notes), predicting the clean frames
  (x0; the original predicts epsilon) with the continuous cosine log-SNR schedule and an L1
  loss, notes and context dropped together with probability :data:`P_DROP` for
  classifier-free guidance;
- **generation**: whole pieces segment by segment, each conditioned on the model's own
  previous segment, stitched; Griffin-Lim makes audio;
- **measures**: mel L1, retrieval, onset F1 (``mir_eval``), pitch-class accuracy, error after
  segment boundaries (:func:`scores`), all with the ground truth's own score as the ceiling.

One recipe, ``midi-synth``, writes two checkpoints: the model and, for the ablation, the same
model without a context encoder::

    tutorial-lib train midi-synth --mode book --out runs/midi-synth
    tutorial-lib sample midi-synth --n 4 --out samples/

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np

from .. import tokens as tk
from .._validate import check_choice, check_int, check_number, describe
from . import _device

__all__ = [
    "CHECKPOINTS",
    "CLASSES",
    "CONFIG",
    "ATTENTION_ONLY_CONFIG",
    "DESCRIPTION",
    "FRAMES",
    "LENGTH",
    "MODELS",
    "P_DROP",
    "RECIPE",
    "SAMPLING",
    "SR",
    "TEST_SECONDS",
    "TRAIN_SECONDS",
    "VOCAB",
    "build",
    "dataset",
    "evaluate",
    "features",
    "generate",
    "load",
    "mel_frames",
    "notes_of",
    "onset_f1",
    "pitch_accuracy",
    "pitch_chance",
    "programs_of",
    "retrieval_accuracy",
    "sample",
    "sample_segment",
    "scores",
    "segment_batch",
    "to_audio",
    "train",
    "train_model",
    "train_settings",
]

SR = 16000
#: Frames per segment: 64 frames of 20 ms = 1.28 s (the original: 256 frames, 5.12 s).
FRAMES = 64
#: The token vocabulary: 10 ms steps, 1.28 s segments, 16 velocity bins, 256 tokens (the
#: densest training segment needs about 100).
VOCAB = tk.Vocabulary(steps_per_second=100, segment_seconds=1.28, velocity_bins=16, max_tokens=256)
#: Training clips last 6 s (so most segments have a real previous segment); held-out pieces
#: 3.84 s, three segments: ``LENGTH`` samples.
TRAIN_SECONDS = 6.0
TEST_SECONDS = 3.84
LENGTH = 61440
CLASSES = None
#: The network (``NoteDecoder``): 128 wide, 2 + 2 encoder layers, 3 decoder layers; tokens
#: carry sequence positions, as the original's; the decoder also reads the segment's piano
#: roll (``roll``: the vocabulary's settings, so the network can decode its tokens).
CONFIG: dict[str, Any] = {"vocab_size": VOCAB.size, "n_mels": 128, "frames": FRAMES, "dim": 128,
                          "heads": 4, "ff": 512, "enc_layers": 2, "ctx_layers": 2,
                          "dec_layers": 3, "dropout": 0.1, "time_tokens": None,
                          "steps_per_frame": 2.0,
                          "roll": dataclasses.asdict(VOCAB)}  # fmt: skip
#: The original's conditioning, for the comparison: notes by cross-attention only, no roll.
ATTENTION_ONLY_CONFIG: dict[str, Any] = {**CONFIG, "roll": None}
#: Probability of dropping notes and context together in training (classifier-free guidance).
P_DROP = 0.1
#: Sampler defaults: ancestral (DDPM-like, eta 1, as the original samples) on the continuous
#: schedule, 50 steps, guidance weight 1 (the plain conditional model: the best mel L1 and
#: retrieval of the weights measured in chapter 6). (DDIM, eta 0, is measured against it:
#: with epsilon prediction its first steps divide the network's error by alpha ~ 5e-5 and the
#: clipped estimate saturates frames, which the fresh noise of the ancestral steps repairs.)
SAMPLING: dict[str, Any] = {"sampler": "ancestral", "steps": 50, "guidance": 1.0}
SAMPLERS = ("ddim", "ancestral")
#: What the network predicts and the loss's norm (see :func:`loss`): the clean frames, x0.
#: The original's epsilon weights a frame error by the signal-to-noise ratio, nearly zero
#: over the noisy half of the schedule, where only the notes can tell the network what to
#: draw; x0 weights every noise level alike (chapter 6 measures both).
PREDICTION = "x0"
LOSS = "l1"
RECIPE = "midi-synth"
DESCRIPTION = (
    "MIDI to mel frames with a small Spectrogram Diffusion (notes encoder, context encoder, "
    "FiLM decoder) on SoundFont renders of MIDI clips, plus its no-context ablation "
    "(book mode: about 25 min, 2 CPU cores)."
)
CHECKPOINTS = ("midi-synth", "midi-synth-nocontext")
MODELS = {
    "midi-synth": "Held-out MIDI clips (3.84 s) rendered by the model, segment by segment.",
    "midi-synth-nocontext": "The same without a context encoder (the ablation).",
}
BATCH = 16


def train_settings(mode: str) -> dict[str, Any]:
    """The recipe's sizes for a run mode.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    check_choice(mode, "mode", ("fast", "book", "full"))
    table = {
        "fast": dict(steps=20, batch=4, n_train=16),
        "book": dict(steps=4000, batch=16, n_train=600),
        "full": dict(steps=100_000, batch=64, n_train=4000),
    }
    s = table[mode]
    s.update(lr=7e-4, ema_decay=0.999, seed=0, ckpt_every=500, p_drop=P_DROP,
             warmup_steps=min(300, s["steps"] // 10), prediction=PREDICTION,
             loss=LOSS)  # fmt: skip
    return s


def _config(name: str) -> dict[str, Any]:
    return {**CONFIG, "ctx_layers": 0} if name == "midi-synth-nocontext" else dict(CONFIG)


def build(config: dict[str, Any] | None = None) -> Any:
    """A fresh :class:`~tutorial_lib.models.note_decoder.NoteDecoder` (:data:`CONFIG`).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from ..models.note_decoder import NoteDecoder

    return NoteDecoder(**(CONFIG if config is None else config))


def dataset(n: int, split: str = "train", seconds: float | None = None) -> Any:
    """``n`` MIDI clips of ``split`` at 16 kHz, level fixed (``tl.data.midi``).

    Clips last :data:`TRAIN_SECONDS` in ``train`` and :data:`TEST_SECONDS` otherwise.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .. import data

    if seconds is None:
        seconds = TRAIN_SECONDS if split == "train" else TEST_SECONDS
    return data.midi(check_int(n, "n", min_value=1), split=split, sr=SR, seconds=seconds,
                     level="fixed")  # fmt: skip


@functools.lru_cache(maxsize=1)
def mel_frames() -> Any:
    """The features' :class:`tl.mel.MelFrames` (the original's settings).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from ..mel import MelFrames

    return MelFrames(SR)


def features(audio: Any) -> Any:
    """Audio ``(B, 1, N)`` (or a dataset) -> features ``(B, N // 320, 128)`` in [-1, 1].

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    x = audio.tensors() if hasattr(audio, "tensors") else audio
    with torch.no_grad():
        return torch.cat([mel_frames()(x[i : i + 64]) for i in range(0, len(x), 64)])


def to_audio(feats: Any, *, n_iter: int = 32, seed: int = 0) -> Any:
    """Features ``(B, frames, 128)`` -> audio ``(B, 1, frames * 320)`` (Griffin-Lim), clipped
    to [-1, 1] (Griffin-Lim's phase can push a few samples of a loud clip just past full scale).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    return mel_frames().to_audio(feats, n_iter=n_iter, seed=seed)[:, None].clamp(-1.0, 1.0)


def programs_of(ds: Any, i: int) -> dict[str, int]:
    """The programs of clip ``i`` of a ``tl.data.midi`` dataset: ``{track: program}``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from ..data.midi import MIDI_TRACKS

    meta = ds.meta[int(i)]
    return {t: int(meta[f"program_{t}"]) for t in MIDI_TRACKS}


def notes_of(ds: Any, i: int) -> np.ndarray:
    """Clip ``i``'s notes in the tokenizer's format, quantized to :data:`VOCAB`.

    The composer sometimes repeats a pitch before the previous one ends (the SoundFont then
    restarts the key); those overlaps are repaired without a warning.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    return tk.quantize(tk.from_tracks(ds.notes(i), programs_of(ds, i)), VOCAB, warn=False)


def _pad_tokens(seqs: list[np.ndarray]) -> Any:
    import torch

    width = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), width, dtype=torch.long)
    for k, s in enumerate(seqs):
        out[k, : len(s)] = torch.from_numpy(s)
    return out


def segment_batch(notes: list[np.ndarray], starts_frames: Any) -> Any:
    """Tokens ``(B, L)`` of one segment per piece, starting at the given frames (20 ms each).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    hop_s = 320 / SR
    return _pad_tokens(
        [
            tk.encode_segment(q, int(f) * hop_s, VOCAB, quantized=True)
            for q, f in zip(notes, starts_frames, strict=True)
        ]
    )


def _log_snr(t: Any) -> Any:
    """The cosine log-SNR at ``t``, float32 on ``t``'s device (no host sync for tensors)."""
    import torch

    from ..schedules import cosine_log_snr

    return cosine_log_snr(t, check=not torch.is_tensor(t)).float()


def _alpha_sigma(t: Any) -> tuple[Any, Any]:
    import torch

    lam = _log_snr(t)
    return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()


class _Batches:
    """``step -> batch`` of random segments with their context and tokens."""

    def __init__(
        self, feats: Any, notes: list[np.ndarray], batch: int, p_drop: float, roll: bool = False
    ) -> None:
        import torch

        self.roll = roll
        silence = -torch.ones(feats.shape[0], FRAMES, feats.shape[-1])
        self.padded = torch.cat([silence, feats.float()], 1)  # frames before the clip: silence
        self.notes, self.batch, self.p_drop = notes, batch, p_drop
        self.n_frames = feats.shape[1]

    def __call__(self, step: int) -> dict[str, Any]:
        import torch

        idx = torch.randint(0, len(self.notes), (self.batch,))
        off = torch.randint(0, self.n_frames - FRAMES + 1, (self.batch,))
        ctx = torch.stack([self.padded[i, o : o + FRAMES] for i, o in zip(idx, off, strict=True)])
        x = torch.stack(
            [self.padded[i, o + FRAMES : o + 2 * FRAMES] for i, o in zip(idx, off, strict=True)]
        )
        toks = segment_batch([self.notes[int(i)] for i in idx], off.tolist())
        drop = torch.rand(self.batch) < self.p_drop
        out = {"x": x, "context": ctx, "tokens": toks, "drop": drop}
        if self.roll:  # made here, ahead of the step (on a GPU, by the worker processes)
            out["roll"] = torch.from_numpy(
                tk.rolls(toks.numpy(), FRAMES, VOCAB, steps_per_frame=CONFIG["steps_per_frame"])
            )
        return out


def loss(
    net: Any, batch: dict[str, Any], *, prediction: str | None = None, norm: str | None = None
) -> Any:
    """The training loss: the distance between the network's output and its target.

    ``prediction`` (default :data:`PREDICTION`): ``"x0"`` (the clean frames), ``"eps"`` (the
    noise, the original's) or ``"v"`` (``alpha eps - sigma x``); ``norm`` (default
    :data:`LOSS`): ``"l1"`` (the original's) or ``"l2"``. A batch may carry the piano rolls
    of its tokens (``"roll"``), made ahead by the data loader.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    from .. import objectives

    prediction = check_choice(PREDICTION if prediction is None else prediction, "prediction",
                              objectives.PREDICTIONS)  # fmt: skip
    norm = check_choice(LOSS if norm is None else norm, "norm", ("l1", "l2"))
    x = batch["x"]
    t = torch.rand(x.shape[0], device=x.device)
    alpha, sigma = (v[:, None, None] for v in _alpha_sigma(t))  # on x's device
    eps = torch.randn_like(x)
    z = alpha * x + sigma * eps
    ctx = batch["context"] if net.has_context else None
    pred = net(z, t, batch["tokens"], ctx, drop=batch["drop"], roll=batch.get("roll"))
    diff = pred - objectives.ddpm_target(x, eps, (alpha**2).reshape(-1), prediction)
    return diff.abs().mean() if norm == "l1" else diff.square().mean()


def _trainer(
    s: dict[str, Any],
    name: str,
    ckpt_dir: Path | None,
    progress: bool = True,
    device: Any = None,
    config: dict[str, Any] | None = None,
) -> Any:
    import torch

    from .. import training

    ds = dataset(s["n_train"])
    feats = features(ds)
    notes = [notes_of(ds, i) for i in range(len(ds))]
    with torch.random.fork_rng():
        torch.manual_seed(s["seed"])
        config = _config(name) if config is None else config
        net = build(config)

    def loss_fn(model: Any, batch: dict[str, Any]) -> Any:
        return loss(model, batch, prediction=s["prediction"], norm=s["loss"])

    return training.Trainer(
        net, loss_fn, _Batches(feats, notes, s["batch"], s["p_drop"], roll=net.roll_vocab is not None),
        max_steps=s["steps"], lr=s["lr"], ema_decay=s["ema_decay"],
        warmup_steps=s["warmup_steps"], ckpt_dir=ckpt_dir,
        ckpt_every=s["ckpt_every"] if ckpt_dir is not None else None, keep=2,
        config=config, seed=s["seed"], progress=progress, device=device,
        workers=_workers(device),
    )  # fmt: skip


def _workers(device: Any) -> int:
    """Worker processes that make batches ahead: on a GPU the token encoding of a step
    (Python, about 10 ms at batch 64) would otherwise leave the GPU idle."""
    import os

    if device is None or str(device).split(":")[0] != "cuda":
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def train(mode: str, out_dir: str | Path, resume: bool = False, *, device: Any = None) -> Path:
    """The ``midi-synth`` recipe: the model, then its no-context ablation; writes both files.

    ``device``: where to train (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU;
    on a GPU, worker processes make the batches ahead).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    s = train_settings(mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"recipe": RECIPE, "mode": mode, **{f"setting_{k}": v for k, v in s.items()}}
    for name in CHECKPOINTS:
        path = out_dir / f"{name}.safetensors"
        if resume and path.is_file():
            continue
        trainer = _trainer(s, name, out_dir / f"ckpt-{name}", device=_device.resolve(device, mode))
        trainer.fit(resume=resume, overwrite=not resume)
        trainer.export(path, dtype=torch.float16, metadata=meta)
    return out_dir / f"{CHECKPOINTS[0]}.safetensors"


def train_model(
    model: Any, name: str = "midi-synth", mode: str | None = None, *, device: Any = None
) -> Any:
    """Train ``model`` in place as the recipe trains ``name`` (writes no file).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from ..config import mode as current_mode

    check_choice(name, "name", list(CHECKPOINTS))
    mode = current_mode() if mode is None else mode
    trainer = _trainer(train_settings(mode), name, None, device=_device.resolve(device, mode))
    trainer.fit()
    model.load_state_dict(trainer.ema_model.state_dict())
    return model


@functools.lru_cache(maxsize=2)
def load(name: str = "midi-synth") -> Any:
    """A reference model in eval mode: ``"midi-synth"`` or ``"midi-synth-nocontext"``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .. import checkpoints

    check_choice(name, "name", list(CHECKPOINTS))
    model = build(_config(name))
    checkpoints.load_or_train(name, model, lambda m: train_model(m, name), config=_config(name))
    return model.float().eval()


def _guided(net: Any, z: Any, t: float, memory: Any, guidance: float) -> Any:
    import torch

    tt = torch.full((z.shape[0],), float(t), device=z.device)
    if guidance == 1.0:
        return net(z, tt, memory=memory)
    uncond = net(z, tt, memory=(torch.zeros(z.shape[0], 1, net.dim, device=z.device), None))
    if guidance == 0.0:
        return uncond
    return uncond + guidance * (net(z, tt, memory=memory) - uncond)


def sample_segment(
    net: Any,
    tokens: Any,
    context: Any,
    *,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    noise: Any = None,
    seed: int = 0,
    device: Any = None,
    prediction: str | None = None,
) -> Any:
    """One segment of mel frames ``(B, FRAMES, 128)`` for ``tokens`` and ``context``.

    DDIM on the continuous cosine schedule (``sampler="ancestral"``: the stochastic DDPM-like
    version, eta 1), predicted clean frames clipped to [-1, 1]. Classifier-free guidance:
    ``eps = eps_uncond + guidance * (eps_cond - eps_uncond)``; ``guidance=1`` is the plain
    conditional model (one call per step), ``0`` the unconditional one. ``tokens=None`` and
    ``context=None`` sample unconditionally. Runs on ``device`` (default: the network's);
    the noise is drawn on the CPU from ``seed``, so every device starts from the same noise,
    and the result comes back to the CPU.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    from .. import objectives
    from ..config import device_of

    if device is None:
        device = device_of(net)
    else:  # a copy of the network on that device (the caller's stays where it is)
        device = torch.device(device)
        net = _device.on_device(net, device)
    steps = SAMPLING["steps"] if steps is None else check_int(steps, "steps", min_value=1)
    guidance = (
        SAMPLING["guidance"] if guidance is None else check_number(guidance, "guidance", low=0.0)
    )
    sampler = check_choice(SAMPLING["sampler"] if sampler is None else sampler, "sampler", SAMPLERS)
    prediction = check_choice(PREDICTION if prediction is None else prediction, "prediction",
                              objectives.PREDICTIONS)  # fmt: skip
    b = (tokens if tokens is not None else context if context is not None else noise).shape[0]
    if noise is None:
        gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
        noise = torch.randn(b, FRAMES, net.n_mels, generator=gen)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    with torch.no_grad():
        if tokens is None and context is None:
            memory = (torch.zeros(b, 1, net.dim, device=device), None)
            guidance = 1.0
        else:
            tokens = None if tokens is None else tokens.to(device)
            context = None if context is None else context.to(device)
            memory = net.encode(tokens, context if net.has_context else None, b, device)
        times = torch.linspace(1.0, 0.0, steps + 1)
        alphas, sigmas = _alpha_sigma(times)  # CPU scalars: they go with any device
        z = noise.to(device, copy=True)
        for i in range(steps):
            a, s, a_next, s_next = alphas[i], sigmas[i], alphas[i + 1], sigmas[i + 1]
            out = _guided(net, z, float(times[i]), memory, float(guidance))
            x0 = objectives.predict_x0(z, out, float(a) ** 2, prediction).clamp(-1, 1)
            eps = (z - a * x0) / s
            if sampler == "ddim" or i == steps - 1:
                z = a_next * x0 + s_next * eps
            else:  # ancestral: the DDPM posterior q(z_next | z, x0)
                snr_ratio = (a * s_next) ** 2 / (a_next * s) ** 2  # = SNR(t) / SNR(t_next)
                var = s_next**2 * (1 - snr_ratio)
                mean = a_next * x0 + (s_next**2 - var).clamp_min(0).sqrt() * eps
                step_noise = torch.randn(z.shape, generator=gen).to(device)
                z = mean + var.clamp_min(0).sqrt() * step_noise
        return _device.to_cpu(z.clamp(-1, 1))


def generate(
    notes: list[Any],
    *,
    seconds: float = TEST_SECONDS,
    model: Any = None,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    context: str = "model",
    truth: Any = None,
    seed: int = 0,
    progress: bool = False,
    device: Any = None,
    prediction: str | None = None,
) -> Any:
    """Whole pieces, segment by segment: features ``(B, frames, 128)``.

    Args:
        notes: one note array per piece (the tokenizer's format, e.g. :func:`notes_of`).
        seconds: length of the pieces.
        model: the network (default: the reference ``midi-synth``).
        steps, guidance, sampler: as in :func:`sample_segment`.
        context: ``"model"`` (each segment sees the model's own previous segment, as in the
            original), ``"silence"`` (context masked: always the silence of a first segment)
            or ``"truth"`` (the real previous segment from ``truth``, for measuring).
        truth: the real features ``(B, frames, 128)`` for ``context="truth"``.
        seed: seeds each segment's noise.
        device: where the network runs (default: where ``model`` is; the reference model's
            default is ``"auto"``: the GPU in ``full`` mode, else the CPU). Features come
            back to the CPU.
        prediction: what ``model`` predicts (default :data:`PREDICTION`; ``"eps"`` for a
            network trained as the original).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    from ..config import progress as bar

    check_choice(context, "context", ("model", "silence", "truth"))
    net = load() if model is None else model.eval()
    if device is not None or model is None:
        net = _device.on_device(net, _device.resolve(device))
    if not isinstance(notes, (list, tuple)) or not notes:
        raise TypeError(
            f"notes: expected a list of note arrays (one per piece), got {describe(notes)}."
        )
    q = [tk.quantize(n, VOCAB) for n in notes]
    frames = int(round(check_number(seconds, "seconds", low=0.02) * SR / 320))
    n_seg = -(-frames // FRAMES)
    b = len(q)
    if context == "truth":
        if truth is None or tuple(truth.shape[:2]) != (b, frames):
            raise ValueError(
                f"truth: context='truth' needs the real features (B={b}, {frames}, 128)."
            )
    out = torch.full((b, n_seg * FRAMES, net.n_mels), -1.0)
    previous = torch.full((b, FRAMES, net.n_mels), -1.0)
    for k in bar(range(n_seg), desc="segments", disable=not progress):
        toks = segment_batch(q, [k * FRAMES] * b)
        seg = sample_segment(net, toks, previous, steps=steps, guidance=guidance,
                             sampler=sampler, seed=seed * 1000 + k, prediction=prediction)  # fmt: skip
        out[:, k * FRAMES : (k + 1) * FRAMES] = seg
        if context == "model":
            previous = seg
        elif context == "truth":
            real = torch.full((b, FRAMES, net.n_mels), -1.0)
            part = truth[:, k * FRAMES : (k + 1) * FRAMES]
            real[:, : part.shape[1]] = part
            previous = real
    return out[:, :frames]


def sample(
    n: int,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    *,
    name: str = "midi-synth",
    guidance: float | None = None,
    device: Any = None,
) -> tuple[Any, int]:
    """The model's renders of ``n`` held-out MIDI clips: ``(audio (n, 1, LENGTH), SR)``.

    ``seed`` picks the clips (test split, ``seed`` as the dataset seed) and the noise;
    ``device`` where the network runs (``None``/``"auto"``: the GPU in ``full`` mode, else
    the CPU).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    check_choice(name, "name", list(MODELS))
    ds = dataset(check_int(n, "n", min_value=1), "test")
    feats = generate([notes_of(ds, i) for i in range(len(ds))], model=load(name), steps=steps,
                     guidance=guidance, sampler=sampler, seed=seed,
                     device=_device.resolve(device))  # fmt: skip
    return to_audio(feats), SR


# --------------------------------------------------------------------------------------------
# Does it follow the notes?
# --------------------------------------------------------------------------------------------


def retrieval_accuracy(generated: Any, real: Any) -> float:
    """Share of generated clips whose nearest real clip (mel L1) is their own (chance: 1/B).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    g, r = torch.as_tensor(generated).float(), torch.as_tensor(real).float()
    if g.shape != r.shape or g.ndim != 3:
        raise ValueError(f"generated, real: expected equal shapes (B, frames, bins), got "
                         f"{describe(generated)} and {describe(real)}.")  # fmt: skip
    d = (g[:, None] - r[None]).abs().mean(dim=(2, 3))  # (generated, real)
    return float((d.argmin(1) == torch.arange(len(g))).float().mean())


def _onsets_from_features(feats: Any) -> list[np.ndarray]:
    """Onset times (s): librosa's spectral flux on the features (x40, about a dB scale).

    ``center=False``: the frames are already centred on ``k * hop``, so the envelope needs
    no shift (librosa's default would move it by ``n_fft // (2 * hop)`` frames).
    """
    import librosa

    out = []
    for f in np.asarray(feats, dtype=np.float64):
        env = librosa.onset.onset_strength(S=f.T * 40.0, sr=SR, hop_length=320, lag=1,
                                           max_size=1, center=False)  # fmt: skip
        frames = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=320,
                                            delta=0.05, wait=2, units="frames")  # fmt: skip
        out.append(frames * 320 / SR)
    return out


def _reference_onsets(notes: np.ndarray, seconds: float) -> np.ndarray:
    """The notes' onsets, those closer than 50 ms to the previous one merged (one event)."""
    on = np.unique(np.round(np.asarray(notes)[:, 0], 2))
    on = on[on < seconds - 0.05]
    keep = np.concatenate([[True], np.diff(on) > 0.05]) if len(on) else on.astype(bool)
    return on[keep]


def _check_pairs(feats: Any, notes: Any) -> None:
    if np.ndim(feats) != 3 or not isinstance(notes, (list, tuple)) or len(notes) != len(feats):
        raise ValueError(
            f"feats, notes: expected features (B, frames, bins) and a list of B note arrays, "
            f"got {describe(feats)} and {describe(notes)}."
        )


def onset_f1(feats: Any, notes: list[Any], *, window: float = 0.05) -> float:
    """Mean onset F-measure (``mir_eval.onset``, +-``window`` s) of onsets detected in the
    features (librosa's spectral flux on the mel frames) against the notes' onsets.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import mir_eval

    _check_pairs(feats, notes)
    est = _onsets_from_features(feats)
    seconds = np.asarray(feats).shape[1] * 320 / SR
    f = [mir_eval.onset.f_measure(_reference_onsets(n, seconds), e, window=window)[0]
         for n, e in zip(notes, est, strict=True)]  # fmt: skip
    return float(np.mean(f))


@functools.lru_cache(maxsize=1)
def _chroma_map() -> np.ndarray:
    """(12, 128): how much of each mel band lies in each pitch class, 50 Hz to 2 kHz."""
    import librosa

    mf = mel_frames()
    pinv = np.linalg.pinv(mf.filters)  # (bins, n_mels)
    chroma = librosa.filters.chroma(sr=SR, n_fft=mf.n_fft, n_chroma=12, ctroct=5.0, octwidth=None)
    freqs = np.linspace(0, SR / 2, mf.n_fft // 2 + 1)
    chroma = chroma * ((freqs > 50) & (freqs < 2000))[None]
    return np.roll(chroma, 0, axis=0) @ np.clip(pinv, 0, None)


def _pitch_classes(notes: np.ndarray, frames: int) -> list[set[int]]:
    hop_s = 320 / SR
    active: list[set[int]] = [set() for _ in range(frames)]
    for start, end, pitch, _, prog in np.asarray(notes):
        if prog == tk.DRUM:
            continue
        for f in range(int(start / hop_s), min(frames, int(np.ceil(end / hop_s)))):
            active[f].add(int(pitch) % 12)
    return active


def pitch_accuracy(feats: Any, notes: list[Any]) -> float:
    """Share of frames (with pitched notes) whose strongest pitch class is a sounding one.

    A simple tracker: mel magnitudes folded onto 12 pitch classes (50 Hz to 2 kHz), the
    strongest class per frame, compared with the pitch classes of the notes sounding then.
    Chance is the share of the 12 classes that are sounding (:func:`pitch_chance`).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    _check_pairs(feats, notes)
    f = np.asarray(feats, dtype=np.float64)
    mel = mel_frames().unscale(f).numpy() - mel_frames().floor  # (B, frames, n_mels)
    chroma = np.einsum("cm,btm->btc", _chroma_map(), mel)
    hits = total = 0
    for c, n in zip(chroma, notes, strict=True):
        for frame, classes in enumerate(_pitch_classes(n, len(c))):
            if classes:
                total += 1
                hits += int(np.argmax(c[frame])) in classes
    return hits / max(total, 1)


def pitch_chance(notes: list[Any], frames: int) -> float:
    """The pitch-class accuracy of a tracker that picks one of the 12 classes at random.

    Over the frames (of ``frames`` per clip) where pitched notes sound, the mean share of the
    12 pitch classes that are sounding: the score :func:`pitch_accuracy` gives to frames
    whose strongest class has nothing to do with the notes.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    frames = check_int(frames, "frames", min_value=1)
    if not isinstance(notes, (list, tuple)) or not notes:
        raise ValueError(f"notes: expected a non-empty list of note arrays, got {describe(notes)}.")
    shares = [len(c) / 12 for n in notes for c in _pitch_classes(n, frames) if c]
    return float(np.mean(shares)) if shares else float("nan")


def scores(generated: Any, real: Any, notes: list[Any]) -> dict[str, float]:
    """All the chapter's measures of ``generated`` features against the ``real`` ones.

    ``mel_l1`` (mean absolute difference of features), ``retrieval`` (chance 1/B),
    ``onset_f1`` and ``pitch_accuracy`` (against ``notes``), ``boundary_l1`` (mel L1 over the
    first 4 frames after each segment boundary, boundaries 1 and later) and ``inside_l1``
    (over the other frames).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    g, r = torch.as_tensor(generated).float(), torch.as_tensor(real).float()
    err = (g - r).abs().mean(dim=(0, 2))  # per frame
    pos = torch.arange(len(err))
    after = (pos >= FRAMES) & (pos % FRAMES < 4)
    return {
        "mel_l1": float(err.mean()),
        "retrieval": retrieval_accuracy(g, r),
        "onset_f1": onset_f1(g, notes),
        "pitch_accuracy": pitch_accuracy(g, notes),
        "boundary_l1": float(err[after].mean()) if after.any() else float("nan"),
        "inside_l1": float(err[(pos >= FRAMES) & ~after].mean()) if after.any() else float("nan"),
    }


def evaluate(
    models: dict[str, Any],
    *,
    n: int = 16,
    steps: int | None = None,
    seed: int = 0,
    guidance: float | None = None,
    ceiling: bool = True,
    device: Any = None,
) -> dict[str, dict[str, float]]:
    """:func:`scores` of each model's renders of ``n`` held-out clips, and the ceiling
    (the real features scored against themselves: the trackers' own accuracy). ``device``:
    where the models run (as :func:`generate`).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    ds = dataset(check_int(n, "n", min_value=2), "test")
    real = features(ds)
    notes = [notes_of(ds, i) for i in range(len(ds))]
    out: dict[str, dict[str, float]] = {}
    if ceiling:
        out["ground truth (ceiling)"] = scores(real, real, notes)
    for label, net in models.items():
        g = generate(notes, model=net, steps=steps, guidance=guidance, seed=seed, device=device)
        out[label] = scores(g, real, notes)
    return out
