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
  segment boundaries (:func:`scores`: ``tl.note_metrics`` on this family's frames), all with
  the ground truth's own score as the ceiling.

The family only wires: the loss is ``tl.objectives.continuous_loss``, the sampler
``tl.samplers.sample_segment`` (with ``tl.samplers.guided``), the measures
``tl.note_metrics``.

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
from . import _common, _device

__all__ = [
    "CHECKPOINTS",
    "CLASSES",
    "CONFIG",
    "ATTENTION_ONLY_CONFIG",
    "DESCRIPTION",
    "FRAMES",
    "HOP",
    "LENGTH",
    "MODELS",
    "P_DROP",
    "RECIPE",
    "SAMPLING",
    "SR",
    "TEST_SECONDS",
    "TRAIN_SECONDS",
    "VOCAB",
    "batches",
    "build",
    "dataset",
    "evaluate",
    "features",
    "generate",
    "load",
    "loss",
    "mel_frames",
    "notes_of",
    "programs_of",
    "sample",
    "scores",
    "segment_batch",
    "to_audio",
    "train",
    "train_model",
    "train_settings",
]

SR = 16000
#: Samples per feature frame (``MelFrames``' hop: 20 ms, 50 frames per second).
HOP = 320
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


def dataset(n: int, split: str = "train", *, seconds: float | None = None) -> Any:
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

    return MelFrames(SR, hop_length=HOP)


def features(audio: Any) -> Any:
    """Audio ``(B, 1, N)`` (or a dataset) -> features ``(B, N // HOP, 128)`` in [-1, 1].

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    x = audio.tensors() if hasattr(audio, "tensors") else audio
    with torch.no_grad():
        return torch.cat([mel_frames()(x[i : i + 64]) for i in range(0, len(x), 64)])


def to_audio(feats: Any, *, n_iter: int = 32, seed: int = 0) -> Any:
    """Features ``(B, frames, 128)`` -> audio ``(B, 1, frames * HOP)`` (Griffin-Lim), clipped
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
    hop_s = HOP / SR
    return _pad_tokens(
        [
            tk.encode_segment(q, int(f) * hop_s, VOCAB, quantized=True)
            for q, f in zip(notes, starts_frames, strict=True)
        ]
    )


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


def batches(
    feats: Any, notes: list[Any], batch: int = BATCH, *, p_drop: float = P_DROP, roll: bool = True
) -> Any:
    """The recipe's training batches: a function ``step -> batch`` for ``tl.training.Trainer``.

    Each batch holds ``batch`` random segments of :data:`FRAMES` frames cut from ``feats``
    (``(N, frames, 128)``, e.g. :func:`features` of a training set): ``"x"`` the segment's
    frames, ``"context"`` the frames just before it (silence before a clip's start),
    ``"tokens"`` its notes (``notes[i]``: :func:`notes_of` of clip ``i``), ``"drop"`` which
    examples lose notes and context together (probability ``p_drop``, for classifier-free
    guidance) and, with ``roll``, the tokens' piano rolls (made ahead of the step; a network
    built with ``roll=None``, :data:`ATTENTION_ONLY_CONFIG`, has no use for them). Random
    draws use the global generator, which the trainer seeds from ``(seed, step)``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    if not isinstance(feats, torch.Tensor) or feats.ndim != 3 or feats.shape[1] < FRAMES:
        raise ValueError(
            f"feats: expected features (N, frames >= {FRAMES}, n_mels), got {describe(feats)}. "
            "Fix: pass features(dataset) of clips at least a segment long."
        )
    if not isinstance(notes, (list, tuple)) or len(notes) != feats.shape[0]:
        raise ValueError(
            f"notes: expected one note array per clip ({feats.shape[0]}), got {describe(notes)}. "
            "Fix: [notes_of(ds, i) for i in range(len(ds))]."
        )
    batch = check_int(batch, "batch", min_value=1)
    p_drop = check_number(p_drop, "p_drop", low=0.0, high=1.0)
    return _Batches(feats, list(notes), batch, p_drop, roll=bool(roll))


def loss(
    net: Any, batch: dict[str, Any], *, prediction: str | None = None, norm: str | None = None
) -> Any:
    """The recipe's loss on one batch: ``tl.objectives.continuous_loss`` of the frames
    ``batch["x"]``, the network conditioned on the batch's tokens, context, drop mask and
    (made ahead by the data loader) piano rolls.

    ``prediction`` (default :data:`PREDICTION`): ``"x0"``, ``"eps"`` (the original's) or
    ``"v"``; ``norm`` (default :data:`LOSS`): ``"l1"`` (the original's) or ``"l2"``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .. import objectives

    cond = {"tokens": batch["tokens"], "context": batch["context"] if net.has_context else None,
            "drop": batch["drop"], "roll": batch.get("roll")}  # fmt: skip
    return objectives.continuous_loss(
        net, batch["x"], prediction=PREDICTION if prediction is None else prediction,
        norm=LOSS if norm is None else norm, cond=cond,
    )  # fmt: skip


def _trainer(
    s: dict[str, Any],
    name: str,
    ckpt_dir: Path | None,
    progress: bool = True,
    device: Any = None,
    config: dict[str, Any] | None = None,
) -> Any:

    from .. import training

    ds = dataset(s["n_train"])
    feats = features(ds)
    notes = [notes_of(ds, i) for i in range(len(ds))]
    config = _config(name) if config is None else config
    net = _common.seeded(lambda: build(config), s["seed"])

    def loss_fn(model: Any, batch: dict[str, Any]) -> Any:
        return loss(model, batch, prediction=s["prediction"], norm=s["loss"])

    return training.Trainer(
        net, loss_fn,
        batches(feats, notes, s["batch"], p_drop=s["p_drop"], roll=net.roll_vocab is not None),
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
    meta = _common.recipe_metadata(RECIPE, mode, s)
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
        steps, guidance, sampler: as in ``tl.samplers.sample_segment`` (``None``: the
            :data:`SAMPLING` default).
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

    from .. import samplers
    from ..config import progress as bar

    check_choice(context, "context", ("model", "silence", "truth"))
    net = load() if model is None else model.eval()
    if device is not None or model is None:
        net = _device.on_device(net, _device.resolve(device))
    if not isinstance(notes, (list, tuple)) or not notes:
        raise TypeError(
            f"notes: expected a list of note arrays (one per piece), got {describe(notes)}."
        )
    settings = {"steps": SAMPLING["steps"] if steps is None else steps,
                "guidance": SAMPLING["guidance"] if guidance is None else guidance,
                "sampler": SAMPLING["sampler"] if sampler is None else sampler,
                "prediction": PREDICTION if prediction is None else prediction}  # fmt: skip
    q = [tk.quantize(n, VOCAB) for n in notes]
    frames = int(round(check_number(seconds, "seconds", low=0.02) * SR / HOP))
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
        seg = samplers.sample_segment(net, toks, previous, **settings, seed=seed * 1000 + k)
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


def scores(generated: Any, real: Any, notes: list[Any]) -> dict[str, float]:
    """All the chapter's measures of ``generated`` features against the ``real`` ones:
    ``tl.note_metrics.scores`` on this family's frames (:func:`mel_frames`, segments of
    :data:`FRAMES`): ``mel_l1``, ``retrieval``, ``onset_f1``, ``pitch_accuracy``,
    ``boundary_l1`` and ``inside_l1``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .. import note_metrics

    return note_metrics.scores(generated, real, notes, mel=mel_frames(), segment=FRAMES)


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
