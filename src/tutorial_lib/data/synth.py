"""Sound sources for the generated datasets: a SoundFont renderer, and a parametric fallback.

**The SoundFont renderer** plays the samples of ``TimGM6mb.sf2`` (a 6 MB General MIDI bank
that ships inside the ``pretty_midi`` package: 128 instruments and 8 drum kits) with
TinySoundFont, through the ``tinysoundfont`` wheel (MIT). It needs no system library, so
``pip`` alone gives every reader, on Linux, macOS and Windows, the same instruments and
(up to floating-point differences between compilers) the same bits. The wheel declares
``pyaudio`` (live playback) as a dependency, which would need the PortAudio headers to build
and which rendering never uses, so it is installed without its dependencies::

    pip install --no-deps tinysoundfont

(``make`` and the notebooks' Colab cell do this; ``docs/SOUND.md`` says why it is the one
renderer and not FluidSynth.)

**Parametric synthesis** (numpy only) builds drum hits from swept sines, filtered noise and
metallic square-wave clusters, and pitched notes from decaying harmonic partials. It is used
to add variety to the drum set, and in place of the SoundFont when ``tinysoundfont`` is
missing: then a :class:`SoundFontMissingWarning` says so and how to install it (never
silently). Every dataset records which renderer made it (``ds.backend``, ``ds.renderer``),
and the renderer is part of the dataset's cache key, so data made by two renderers are
never mixed in one cache entry.

Rendering is deterministic: every note and every clip is rendered by a fresh synthesizer
(loading the SoundFont from memory takes about 8 ms), so its audio depends only on its own
arguments, not on what the process rendered before. Reverb and chorus are not applied.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BLOCK",
    "INSTALL_HINT",
    "SoundFontMissingWarning",
    "SoundFontRenderer",
    "renderer",
    "renderer_id",
    "resolve_backend",
    "soundfont_available",
    "soundfont_path",
    "parametric_drum",
    "parametric_note",
    "pitch_shift",
    "filter_audio",
]

#: Events are placed on a grid of this many samples (TinySoundFont updates its envelopes
#: and filters every 64 samples, so a note on this grid starts exactly where it is annotated).
BLOCK = 64
#: Set this environment variable to 1 to act as if the SoundFont renderer were missing.
DISABLE_ENV = "TUTORIAL_NO_SOUNDFONT"
#: The renderer's package and the version the reference checkpoints' data were made with.
RENDERER = "tinysoundfont"

INSTALL_HINT = (
    "Install the SoundFont renderer to hear real instruments: "
    "`pip install --no-deps tinysoundfont` (no system library needed; --no-deps skips its "
    "optional pyaudio playback dependency), then restart Python."
)


class SoundFontMissingWarning(UserWarning):
    """The SoundFont renderer is not available (the data is made by parametric synthesis), or
    the SoundFont lacks a program asked for (its preset 0 plays instead).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """


@functools.lru_cache(maxsize=1)
def _renderer_probe() -> tuple[bool, str]:
    try:
        import tinysoundfont  # noqa: F401
    except Exception as error:  # ImportError, or a broken binary (OSError)
        return False, f"{type(error).__name__}: {error}"
    path = soundfont_path()
    if path is None:
        return False, "the SoundFont TimGM6mb.sf2 was not found in the pretty_midi package"
    return True, ""


def soundfont_available() -> tuple[bool, str]:
    """``(True, '')`` when the SoundFont renderer and the SoundFont can be used, else
    ``(False, reason)``.

    ``$TUTORIAL_NO_SOUNDFONT=1`` makes it report ``False`` (to try the fallback).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    if os.environ.get(DISABLE_ENV, "").strip() not in ("", "0"):
        return False, f"disabled by ${DISABLE_ENV}"
    return _renderer_probe()


@functools.lru_cache(maxsize=1)
def soundfont_path() -> Path | None:
    """The General MIDI SoundFont shipped with pretty_midi (``TimGM6mb.sf2``), or ``None``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    try:
        import importlib.util

        spec = importlib.util.find_spec("pretty_midi")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    return path if path.is_file() else None


def resolve_backend(backend: str, what: str, *, stacklevel: int = 3) -> str:
    """Turn ``'auto'`` / ``'soundfont'`` / ``'parametric'`` into the backend actually used.

    ``'auto'`` uses the SoundFont renderer when available and otherwise warns
    (:class:`SoundFontMissingWarning`) and falls back to ``'parametric'``; asking for
    ``'soundfont'`` when it is missing is an error.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from .._validate import check_choice

    check_choice(backend, "backend", ("auto", "soundfont", "parametric"))
    if backend == "parametric":
        return backend
    ok, reason = soundfont_available()
    if ok:
        return "soundfont"
    if backend == "soundfont":
        raise RuntimeError(
            f"backend: 'soundfont' was asked for but the SoundFont renderer is not available "
            f"({reason}). {INSTALL_HINT} Or pass backend='auto' to fall back to parametric "
            "synthesis."
        )
    warnings.warn(
        f"{what}: the SoundFont renderer is not available ({reason}), so this data is made by "
        f"PARAMETRIC SYNTHESIS (synthetic approximations, not recorded instrument samples). "
        f"{INSTALL_HINT}",
        SoundFontMissingWarning,
        stacklevel=stacklevel,
    )
    return "parametric"


def renderer_id() -> str:
    """The identity of the SoundFont rendering, for cache keys and dataset metadata:
    renderer package and version, SoundFont file name and size.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        engine = f"{RENDERER}-{version(RENDERER)}"
    except PackageNotFoundError:
        engine = f"{RENDERER}-missing"
    path = soundfont_path()
    return engine + ("+none" if path is None else f"+{path.name}:{path.stat().st_size}")


@functools.lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    path = soundfont_path()
    if path is None:
        raise RuntimeError("The SoundFont TimGM6mb.sf2 was not found in pretty_midi.")
    return path.read_bytes()


# --------------------------------------------------------------------------------------------
# The SoundFont renderer (TinySoundFont)
# --------------------------------------------------------------------------------------------
#: The drum kits (bank 128 presets) of the General MIDI SoundFont that ships with pretty_midi.
DRUM_KITS_IN_SF = (0, 8, 16, 24, 25, 32, 40, 48)


class SoundFontRenderer:
    """The General MIDI SoundFont at one sample rate, rendered with TinySoundFont.

    :meth:`note` renders one note (pitched or drum); :meth:`events` renders a list of MIDI
    events. Output is float32 stereo ``(2, T)``. Each call starts a fresh synthesizer, so
    the result depends only on the call's arguments. Create it with :func:`renderer`.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    def __init__(self, sr: int, gain_db: float = -6.0) -> None:
        self.sr = int(sr)
        self.gain_db = float(gain_db)

    def _synth(self) -> tuple[Any, int]:
        import tinysoundfont

        synth = tinysoundfont.Synth(gain=self.gain_db, samplerate=self.sr)
        return synth, synth.sfload(_soundfont_bytes())

    def preset_name(self, bank: int, program: int) -> str:
        """The SoundFont's name of a preset (bank 0: instruments, bank 128: drum kits)."""
        synth, sfid = self._synth()
        return synth.sfpreset_name(sfid, bank, program) or ""

    @staticmethod
    def _select(synth: Any, sfid: int, channel: int, program: int, drum: bool) -> None:
        bank = 128 if drum else 0
        if not synth.sfpreset_name(sfid, bank, program):  # not in this SoundFont: preset 0
            import warnings

            warnings.warn(
                f"programs: {'drum kit' if drum else 'program'} {program} is not in the "
                f"SoundFont (bank {bank}); its preset 0 plays instead. The General MIDI "
                f"SoundFont has programs 0-127 and the drum kits {list(DRUM_KITS_IN_SF)}.",
                SoundFontMissingWarning,
                stacklevel=4,
            )
            program = 0
        synth.program_select(channel, sfid, bank, program, is_drums=drum)

    def _render(self, synth: Any, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros((2, 0), dtype=np.float32)
        return np.frombuffer(synth.generate(n), dtype=np.float32).reshape(n, 2).T.copy()

    def note(
        self,
        program: int,
        pitch: int,
        velocity: int,
        hold: int,
        length: int,
        *,
        drum: bool = False,
    ) -> np.ndarray:
        """One note from silence: on at sample 0, off after ``hold`` samples; ``(2, length)``."""
        synth, sfid = self._synth()
        channel = 9 if drum else 0
        self._select(synth, sfid, channel, int(program), drum)
        hold = max(1, min(int(hold), int(length)))
        synth.noteon(channel, int(pitch), int(velocity))
        first = self._render(synth, hold)
        synth.noteoff(channel, int(pitch))
        rest = self._render(synth, int(length) - hold)
        return np.concatenate([first, rest], axis=1)

    def events(self, events: list[tuple], length: int, programs: dict[int, int]) -> np.ndarray:
        """Render MIDI events from silence: float32 ``(2, length)``.

        ``events``: ``(sample, kind, channel, a, b)`` with ``kind`` in ``'on'`` (a=pitch,
        b=velocity) and ``'off'`` (a=pitch). ``programs``: ``{channel: program}`` (channel 9
        takes a drum-kit number).
        """
        synth, sfid = self._synth()
        for channel, program in programs.items():
            self._select(synth, sfid, int(channel), int(program), channel == 9)
        out = np.zeros((2, int(length)), dtype=np.float32)
        pos = 0
        order = {"off": 0, "on": 1}
        for sample, kind, channel, a, b in sorted(events, key=lambda e: (e[0], order[e[1]])):
            sample = min(int(sample), int(length))
            if sample > pos:
                out[:, pos:sample] = self._render(synth, sample - pos)
                pos = sample
            if kind == "on":
                synth.noteon(int(channel), int(a), int(b))
            else:
                synth.noteoff(int(channel), int(a))
        if pos < length:
            out[:, pos:] = self._render(synth, int(length) - pos)
        return out


def renderer(sr: int) -> SoundFontRenderer:
    """The :class:`SoundFontRenderer` for sample rate ``sr`` (8 to 96 kHz).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    if not 8000 <= int(sr) <= 96000:
        raise ValueError(f"sr: the SoundFont renderer works at 8000 to 96000 Hz, got {sr} Hz.")
    ok, reason = soundfont_available()
    if not ok:
        raise RuntimeError(f"The SoundFont renderer is not available ({reason}). {INSTALL_HINT}")
    return SoundFontRenderer(int(sr))


# --------------------------------------------------------------------------------------------
# Cheap DSP for variety
# --------------------------------------------------------------------------------------------
def pitch_shift(x: np.ndarray, semitones: float, length: int) -> np.ndarray:
    """Resample-based pitch shift (like a sampler: shorter and higher, or longer and lower).

    ``x``: ``(..., T)``; returns ``(..., length)`` read at rate ``2 ** (semitones / 12)``
    with linear interpolation (zeros past the end).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    rate = 2.0 ** (semitones / 12.0)
    pos = np.arange(length) * rate
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    out = np.stack([np.interp(pos, np.arange(n), row, right=0.0) for row in flat])
    return out.reshape(*x.shape[:-1], length)


def filter_audio(
    x: np.ndarray, kind: str, cutoff: float | tuple, sr: int, order: int = 2
) -> np.ndarray:
    """Butterworth ``'lowpass'`` / ``'highpass'`` / ``'bandpass'`` filter along the last axis.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from scipy.signal import butter, sosfilt

    nyq = sr / 2.0
    if isinstance(cutoff, tuple):
        lo, hi = (min(max(c, 10.0), 0.95 * nyq) for c in cutoff)
        if hi <= lo * 1.05:
            return x
        wn: Any = (lo / nyq, hi / nyq)
    else:
        c = min(max(float(cutoff), 10.0), 0.95 * nyq)
        wn = c / nyq
    sos = butter(order, wn, btype=kind, output="sos")
    return sosfilt(sos, x, axis=-1)


def _env(n: int, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (sr * max(tau, 1e-4)))


def _sweep(n: int, sr: int, f_start: float, f_end: float, tau: float) -> np.ndarray:
    """A sine whose frequency glides exponentially from ``f_start`` to ``f_end`` Hz."""
    t = np.arange(n) / sr
    freq = f_end + (f_start - f_end) * np.exp(-t / tau)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr)


def _metallic(n: int, sr: int, base: float, rng: np.random.Generator) -> np.ndarray:
    """The TR-808 trick: six detuned square waves (an inharmonic, metallic cluster)."""
    ratios = np.array([1.0, 1.4953, 1.6968, 2.1234, 2.5897, 3.7123]) * rng.uniform(0.97, 1.03, 6)
    t = np.arange(n) / sr
    phase = rng.uniform(0, 1, 6)
    return np.sign(np.sin(2 * np.pi * (base * ratios[:, None] * t + phase[:, None]))).sum(0) / 6


def parametric_drum(kind: str, rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """One synthetic drum hit of class ``kind``: float64 ``(n,)`` at ``sr`` Hz, peak 1.

    ``kind`` is one of ``kick, snare, closed_hat, open_hat, tom, cymbal, percussion``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    u = rng.uniform
    noise = rng.standard_normal(n)
    if kind == "kick":
        body = _sweep(n, sr, u(100, 260), u(38, 65), u(0.01, 0.05)) * _env(n, sr, u(0.08, 0.35))
        click = filter_audio(noise, "lowpass", u(1500, 5000), sr) * _env(n, sr, 0.004) * u(0.1, 0.5)
        x = body + click
    elif kind == "snare":
        tone = _sweep(n, sr, u(250, 350), u(160, 230), 0.02) * _env(n, sr, u(0.03, 0.09))
        rattle = filter_audio(noise, "bandpass", (u(800, 2000), u(5000, 9000)), sr)
        x = tone * u(0.3, 0.8) + rattle * _env(n, sr, u(0.06, 0.22))
    elif kind in ("closed_hat", "open_hat", "cymbal"):
        tau = {"closed_hat": (0.015, 0.06), "open_hat": (0.15, 0.5), "cymbal": (0.5, 1.8)}[kind]
        metal = _metallic(n, sr, u(300, 600), rng) * u(0.3, 1.0) + noise * u(0.3, 1.0)
        x = filter_audio(metal, "highpass", u(0.3, 0.55) * sr / 2 * 0.9, sr, order=4)
        x = x * _env(n, sr, u(*tau))
    elif kind == "tom":
        f = u(80, 320)
        x = _sweep(n, sr, f * u(1.3, 1.8), f, u(0.03, 0.1)) * _env(n, sr, u(0.15, 0.5))
        x = x + filter_audio(noise, "bandpass", (f, 4 * f), sr) * _env(n, sr, 0.03) * 0.3
    elif kind == "percussion":
        which = int(rng.integers(4))
        if which == 0:  # clap: a few noise bursts, then a tail
            bp = filter_audio(noise, "bandpass", (u(700, 1200), u(2000, 4000)), sr)
            env = np.zeros(n)
            gap = int(u(0.006, 0.012) * sr)
            for k in range(int(rng.integers(3, 5))):
                env[k * gap :] += _env(n - k * gap, sr, 0.006)
            x = bp * (env + 0.5 * _env(n, sr, u(0.05, 0.15)))
        elif which == 1:  # cowbell: two square waves, band-passed
            t = np.arange(n) / sr
            f = u(480, 620)
            sq = np.sign(np.sin(2 * np.pi * f * t)) + np.sign(np.sin(2 * np.pi * f * 1.48 * t))
            x = filter_audio(sq, "bandpass", (f * 0.8, f * 4), sr) * _env(n, sr, u(0.08, 0.25))
        elif which == 2:  # wood block / rim: a short resonant ping
            x = _sweep(n, sr, u(900, 2200), u(800, 2000), 0.01) * _env(n, sr, u(0.01, 0.04))
        else:  # shaker: band-passed noise with a soft attack
            env = _env(n, sr, u(0.03, 0.1)) * (1 - _env(n, sr, u(0.005, 0.02)))
            x = filter_audio(noise, "bandpass", (u(3000, 5000), 0.9 * sr / 2), sr) * env
    else:
        raise ValueError(f"kind: unknown drum class {kind!r}.")
    peak = np.max(np.abs(x))
    return x / peak if peak > 0 else x


# Family recipes for parametric notes: spectral tilt (amplitude ~ k**-tilt), attack (s),
# decay time (s; inf = sustained), release (s), odd-harmonic bias, vibrato depth, noise.
_NOTE_RECIPES: dict[str, dict[str, float]] = {
    "bass": dict(tilt=1.6, attack=0.005, decay=1.2, release=0.06, odd=0.0, vib=0.0, noise=0.02),
    "brass": dict(
        tilt=1.0, attack=0.04, decay=np.inf, release=0.08, odd=0.0, vib=0.003, noise=0.01
    ),
    "flute": dict(tilt=2.5, attack=0.06, decay=np.inf, release=0.1, odd=0.0, vib=0.004, noise=0.08),
    "guitar": dict(tilt=1.4, attack=0.002, decay=1.5, release=0.08, odd=0.0, vib=0.0, noise=0.03),
    "keyboard": dict(tilt=1.3, attack=0.003, decay=2.0, release=0.15, odd=0.0, vib=0.0, noise=0.01),
    "mallet": dict(tilt=3.0, attack=0.001, decay=0.5, release=0.2, odd=0.0, vib=0.0, noise=0.02),
    "organ": dict(tilt=0.8, attack=0.01, decay=np.inf, release=0.03, odd=0.0, vib=0.0, noise=0.0),
    "reed": dict(tilt=1.1, attack=0.03, decay=np.inf, release=0.06, odd=0.8, vib=0.003, noise=0.03),
    "string": dict(
        tilt=1.0, attack=0.08, decay=np.inf, release=0.2, odd=0.0, vib=0.006, noise=0.01
    ),
    "synth_lead": dict(
        tilt=0.9, attack=0.01, decay=np.inf, release=0.05, odd=0.5, vib=0.0, noise=0.0
    ),
    "vocal": dict(tilt=1.0, attack=0.1, decay=np.inf, release=0.15, odd=0.0, vib=0.008, noise=0.02),
}


def parametric_note(
    family: str,
    variant: int,
    pitch: int,
    velocity: int,
    sr: int,
    hold: int,
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One synthetic pitched note: float64 ``(length,)`` at ``sr`` Hz, peak ``(velocity/127)``.

    Additive synthesis, computed as wavetables: harmonics ``k * f0`` with a family's spectral
    tilt, attack, decay (upper harmonics die faster: two tables, low and high harmonics, each
    with its own decay), release (after ``hold`` samples) and vibrato; mallets use their
    inharmonic partials. ``variant`` (the instrument's index in its family) and the velocity
    change the brightness.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    r = _NOTE_RECIPES[family]
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    t = np.arange(length) / sr
    vel = velocity / 127.0
    tilt = r["tilt"] * (1.25 - 0.5 * vel) * (1.0 + 0.15 * (variant % 4 - 1.5))
    k_max = int(max(1, min(40, 0.45 * sr // (f0 * (1 + 2 * r["vib"])))))
    k = np.arange(1, k_max + 1, dtype=np.float64)
    amps = k ** (-tilt)
    if r["odd"]:
        amps = np.where(k % 2 == 0, amps * (1 - r["odd"]), amps)
    if family == "vocal":  # vowel formants
        for fc, bw, g in ((700, 130, 1.0), (1200, 150, 0.6), (2600, 250, 0.3)):
            amps = amps * (1 + 4 * g * np.exp(-0.5 * ((k * f0 - fc) / bw) ** 2))
    vib = 1 + r["vib"] * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * t) * np.minimum(1, t / 0.3)
    cycles = f0 * np.cumsum(vib) / sr  # phase in periods of f0
    decay = r["decay"] * (f0 / 262.0) ** -0.3
    if family == "mallet":  # inharmonic bar modes, summed directly (four partials)
        ratios = np.array([1.0, 3.93, 9.54, 2.0 * (1 + variant % 2)])
        gains = np.array([1.0, 0.35, 0.12, 0.2])
        x = np.zeros(length)
        for j, (q, a) in enumerate(zip(ratios, gains, strict=True)):
            if q * f0 < 0.45 * sr:
                ph = rng.uniform(0, 2 * np.pi)
                x += a * np.sin(2 * np.pi * q * cycles + ph) * np.exp(-t * (1 + 2 * j) / decay)
    else:
        size = 2048
        theta = np.arange(size + 1) / size
        phases = rng.uniform(0, 2 * np.pi, k_max)
        pos = (cycles % 1.0) * size
        x = np.zeros(length)
        split = min(3, k_max)
        for group, fade in ((slice(0, split), 1.0), (slice(split, k_max), 2.5)):
            if not len(k[group]):
                continue
            table = (
                amps[group, None] * np.sin(2 * np.pi * k[group, None] * theta + phases[group, None])
            ).sum(0)
            wave = np.interp(pos, np.arange(size + 1), table)
            x += wave if np.isinf(decay) else wave * np.exp(-t * fade / decay)
    if r["noise"]:
        noise = filter_audio(
            rng.standard_normal(length), "bandpass", (f0, min(8 * f0, 0.45 * sr)), sr
        )
        breath = np.ones(length) if family == "flute" else np.exp(-t / 0.05)  # else a chiff
        x += r["noise"] * noise * breath
    env = np.minimum(1.0, t / r["attack"])
    after = np.maximum(0, np.arange(length) - hold) / sr
    env *= np.where(np.arange(length) < hold, 1.0, np.exp(-after / r["release"]))
    x *= env
    peak = np.max(np.abs(x))
    return x * (0.9 * vel / peak) if peak > 0 else x
