"""Datasets of instrument sounds that need no download: drums, notes, MIDI clips, your folder.

Every generated dataset is seeded and deterministic, made once and cached on disk under a
content hash of its arguments (``$TUTORIAL_CACHE``, default ``~/.cache/tutorial_lib``), and
comes back as a ``torch.utils.data.Dataset`` whose items are dicts::

    {"audio": Tensor (C, T) float32 in [-1, 1], "label": int, "class_name": str, ...metadata}

with non-overlapping ``split='train' | 'validation' | 'test'``.

- :func:`drums`: one-shot drum hits (kick, snare, hats, toms, cymbals, percussion) from the
  General MIDI kits, with pitch/decay/EQ/gain variety; 16 kHz mono by default, or
  ``drums(**TINY_AUDIO_DIFFUSION)`` for 44.1 kHz stereo clips of 32768 samples.
- :func:`notes`: NSynth-style single notes of pitched instruments (guitar, keys, strings,
  brass, reeds, ...) labelled with pitch, velocity, instrument and family.
- :func:`midi`: musical multi-track MIDI clips rendered to audio, with their aligned notes.
- :class:`AudioFolder`: any folder of your own WAV/FLAC/MP3/OGG files.

The sounds come from the General MIDI SoundFont that ships with ``pretty_midi``, rendered by
TinySoundFont (the ``tinysoundfont`` wheel: no system library). Without it the generators
fall back to parametric synthesis and say so with a :class:`SoundFontMissingWarning` that
tells how to install it. Every dataset records its renderer (``ds.backend``, ``ds.renderer``).

Example::

    import tutorial_lib as tl
    train = tl.data.drums(1000, split="train")
    valid = tl.data.drums(200, split="validation")
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import SPLITS, ClipDataset, collate
from ._cache import cache_dir
from .drums import DRUM_CLASSES, DRUM_KITS, DRUM_NOTES, TINY_AUDIO_DIFFUSION, drums
from .folder import AUDIO_EXTENSIONS, AudioFolder, UnreadableAudioWarning
from .midi import MIDI_STYLES, MIDI_TRACKS, MidiDataset, midi, render_notes
from .notes import FRAMINGS, INSTRUMENTS, NOTE_FAMILIES, PITCH_RANGES, note_name, notes
from .synth import SoundFontMissingWarning, renderer_id, soundfont_available

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFolder",
    "ClipDataset",
    "DATASETS",
    "DRUM_CLASSES",
    "DRUM_KITS",
    "DRUM_NOTES",
    "FRAMINGS",
    "INSTRUMENTS",
    "MIDI_STYLES",
    "MIDI_TRACKS",
    "MidiDataset",
    "NOTE_FAMILIES",
    "PITCH_RANGES",
    "SPLITS",
    "SoundFontMissingWarning",
    "TINY_AUDIO_DIFFUSION",
    "UnreadableAudioWarning",
    "cache_dir",
    "collate",
    "drums",
    "renderer_id",
    "soundfont_available",
    "load",
    "midi",
    "note_name",
    "notes",
    "render_notes",
]


def _guitar(n: int | None = None, **kwargs: Any) -> ClipDataset:
    return notes(n, families=["guitar"], **kwargs)


def _drums_stereo(n: int = 1000, **kwargs: Any) -> ClipDataset:
    return drums(n, **{**TINY_AUDIO_DIFFUSION, **kwargs})


#: The named datasets of the command line (``tutorial-lib data NAME``): name -> (function,
#: one-line description, default sample rate in Hz).
DATASETS: dict[str, tuple[Callable[..., ClipDataset], str, int]] = {
    "drums": (drums, "drum one-shots (7 classes), 16 kHz mono, 16384 samples", 16000),
    "drums-stereo": (
        _drums_stereo,
        "drum one-shots, 44.1 kHz stereo, 32768 samples (Tiny Audio Diffusion's format)",
        44100,
    ),
    "notes": (notes, "NSynth-style single notes, 11 instrument families, 16 kHz, 1 s", 16000),
    "guitar": (_guitar, "NSynth-style guitar notes (label: family), 16 kHz, 1 s", 16000),
    "midi": (midi, "4 s multi-track MIDI clips with aligned notes (label: style), 16 kHz", 16000),
}


def load(name: str, n: int | None = None, **kwargs: Any) -> ClipDataset:
    """A named dataset of :data:`DATASETS` (``'drums'``, ``'drums-stereo'``, ``'notes'``,
    ``'guitar'``, ``'midi'``); ``kwargs`` go to its function. Unknown names list the valid ones.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from .._validate import check_choice

    check_choice(name, "name", tuple(DATASETS))
    fn = DATASETS[name][0]
    return fn(**kwargs) if n is None else fn(n, **kwargs)
