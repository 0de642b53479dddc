"""The ``tutorial-lib`` command line: make datasets, sample models, evaluate, train, render.

::

    tutorial-lib data drums --out d --n 200            # WAV files + labels.csv
    tutorial-lib data --list                           # the datasets
    tutorial-lib sample --list                         # the registered models
    tutorial-lib sample MODEL --n 16 --out samples     # WAVs from a registered model
    tutorial-lib eval --real d --fake samples [--json] # FD / KID beside the real-vs-real floor
    tutorial-lib train --list                          # the registered training recipes
    tutorial-lib train RECIPE --mode book --out runs/x # train like the reference checkpoint
    tutorial-lib render song.mid --out song.wav        # your MIDI file through chapter 6's model
    torchrun --nproc_per_node=2 -m tutorial_lib train RECIPE --mode fast   # on 2 processes

Also ``python -m tutorial_lib ...``. Every subcommand has ``--help``. Bad input (an unknown
dataset, model or recipe, a missing folder) prints one message on stderr that lists the valid
choices and exits with code 2, without a traceback (set ``TUTORIAL_DEBUG=1`` to see one).
Unreadable audio files are reported by path and skipped, with a count at the end. Files are
written atomically, and the index file (``labels.csv``, ``samples.json``) last, so an
interrupted run never leaves a half-written file.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

PROG = "tutorial-lib"


class CLIError(Exception):
    """A user error: printed on stderr, exit code 2."""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _write_text(path: Path, text: str) -> None:
    from ._io import atomic_write

    with atomic_write(path, "w") as f:
        f.write(text)


def _progress(iterable: Any, total: int, desc: str) -> Any:
    from tqdm import tqdm

    # disable=None: a bar on a terminal only (not in a notebook, a log or a pipe)
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, disable=None)


def _out_dir(path: str) -> Path:
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out: {str(out)!r} exists and is not a folder. Fix: pass a folder path.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def _cmd_data(args: argparse.Namespace) -> int:
    from . import audio
    from . import data as tl_data

    if args.list:
        for name, (_, description, _) in tl_data.DATASETS.items():
            print(f"{name}\t{description}")
        return 0
    if args.name is None:
        raise CLIError(
            f"which dataset? Valid names: {', '.join(tl_data.DATASETS)}. "
            f"Example: {PROG} data drums --out d --n 200"
        )
    if args.name not in tl_data.DATASETS:
        import difflib

        close = difflib.get_close_matches(args.name, list(tl_data.DATASETS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CLIError(
            f"unknown dataset {args.name!r}. Valid names: {', '.join(tl_data.DATASETS)}.{hint}"
        )
    if args.out is None:
        raise CLIError("--out DIR is required (the folder for the WAV files).")
    kwargs: dict[str, Any] = {"split": args.split, "seed": args.seed, "progress": True}
    if args.sr is not None:
        kwargs["sr"] = args.sr
    if args.length is not None:
        if args.name in ("notes", "guitar", "midi"):
            raise CLIError(
                f"--length: not available for {args.name!r} (its clip length is fixed by "
                f"{'--seconds' if args.name == 'midi' else 'the framing'})."
            )
        kwargs["length"] = args.length
    if args.seconds is not None:
        if args.name != "midi":
            raise CLIError("--seconds: only for the 'midi' dataset.")
        kwargs["seconds"] = args.seconds
    if args.backend is not None:
        kwargs["backend"] = args.backend
    if args.no_cache:
        kwargs["cache"] = False
    ds = tl_data.load(args.name, args.n, **kwargs)
    out = _out_dir(args.out)
    rows = []
    is_midi = isinstance(ds, tl_data.MidiDataset)
    for i in _progress(range(len(ds)), len(ds), "writing WAV files"):
        item = ds[i]
        stem = f"{args.name}_{ds.split}_{i:05d}"
        audio.save(out / f"{stem}.wav", item["audio"], ds.sr)
        row = {"file": f"{stem}.wav"}
        if is_midi:
            ds.save_midi(i, out / f"{stem}.mid")
            row["midi_file"] = f"{stem}.mid"
        row.update({k: v for k, v in item.items() if k not in ("audio", "index") and _scalar(v)})
        rows.append(row)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(out / "labels.csv", buf.getvalue())
    print(
        f"Wrote {len(rows)} WAV files ({ds.sr} Hz, {ds.channels} channel(s), "
        f"{ds.length} samples){' and MIDI files' if is_midi else ''} and labels.csv to "
        f"{out}/ ({args.name}, {ds.split} split, seed {args.seed}, sound: {ds.renderer})."
    )
    return 0


def _print_registered(entries: dict[str, str], empty_message: str) -> int:
    """``--list``: one ``name<TAB>description`` line per registered entry."""
    if not entries:
        print(empty_message)
    for name, description in entries.items():
        print(f"{name}\t{description}")
    return 0


def _check_registered(name: str | None, entries: dict[str, str], kind: str, command: str) -> None:
    """A missing or unknown model/recipe name is an error that lists the valid names."""
    if name is None:
        raise CLIError(f"which {kind}? List them with: {PROG} {command} --list")
    if name not in entries:
        valid = ", ".join(entries) if entries else "none are registered yet"
        raise CLIError(f"unknown {kind} {name!r}. Valid {kind}s: {valid}.")


# --------------------------------------------------------------------------------------------
# sample
# --------------------------------------------------------------------------------------------
def _cmd_sample(args: argparse.Namespace) -> int:
    from . import audio, registry

    if args.list:
        return _print_registered(
            registry.models(),
            "No models are registered yet. Models register themselves with "
            "tutorial_lib.registry.register_model(name, sample_fn, description) when the "
            "module that defines them is imported.",
        )
    if args.page_noise:
        return _sample_page_noise(args)
    _check_registered(args.model, registry.models(), "model", "sample")
    if args.out is None:
        raise CLIError("--out DIR is required (the folder for the WAV files).")
    out = _out_dir(args.out)
    device = _device(args)
    # Streamed: batch k of args.batch clips is sampled with seed (args.seed + k) and written
    # before the next is sampled, so memory does not grow with --n.
    files, sr = [], None
    starts = range(0, args.n, args.batch)
    for k, start in enumerate(_progress(starts, len(starts), "sampling batches")):
        size = min(args.batch, args.n - start)
        x, sr = registry.sample(
            args.model, size, steps=args.steps, sampler=args.sampler, seed=args.seed + k,
            device=device,
        )  # fmt: skip
        for i in range(size):
            name = f"{args.model}_{start + i:05d}.wav"
            audio.save(out / name, x[i].detach().cpu().float(), sr)
            files.append(name)
        del x
    info = dict(model=args.model, n=args.n, steps=args.steps, sampler=args.sampler,
                seed=args.seed, batch=args.batch, sr=sr, files=files,
                seeds="batch k (clips k*batch ...) is sampled with seed + k")  # fmt: skip
    _write_text(out / "samples.json", json.dumps(info, indent=1))
    print(f"Wrote {len(files)} WAV files ({sr} Hz) and samples.json to {out}/.")
    return 0


#: --page-noise: the models of the book's live panels, and the class of clip i (None: no class).
_PAGE_MODELS: dict[str, Any] = {
    "drums-unet": "cycle", "drums-unet-short": "cycle", "drums-unet-kick": "kick",
    "drums-unet-snare": "snare", "drums-unet-hat": "closed_hat",
    "drums-unet-percussion": "percussion", "drums-small-rf": None,
}  # fmt: skip


def _sample_page_noise(args: argparse.Namespace) -> int:
    """``sample --page-noise``: clip i is the book's live panel's clip for seed ``seed + i``
    (``tl.export.live_sample``: ``tl.export.seeded_noise``, then the family's sampler)."""
    from . import audio, export
    from .families import drums_unet

    if args.model not in _PAGE_MODELS:
        raise CLIError(
            f"--page-noise: {args.model!r} has no live panel. Fix: one of "
            f"{', '.join(_PAGE_MODELS)} (or leave out --page-noise)."
        )
    if args.out is None:
        raise CLIError("--out DIR is required (the folder for the WAV files).")
    if args.seed + args.n > 2**32:
        raise CLIError("--seed: the page's seeds are below 2**32 (seed + n - 1 must be too).")
    if args.sampler is not None:
        raise CLIError("--sampler: --page-noise runs the panel's sampler. Fix: leave it out.")
    out = _out_dir(args.out)
    # the class models (drums-unet-kick, ...) are drums-unet asked for one class
    name = args.model if args.model in export.LIVE_MODELS else "drums-unet"
    files, sr, classes = [], None, []
    for i in _progress(range(args.n), args.n, "sampling clips"):
        cls = _PAGE_MODELS[args.model]
        if cls == "cycle":
            cls = drums_unet.CLASSES[i % len(drums_unet.CLASSES)]
        x = export.live_sample(name, seed=args.seed + i, class_name=cls, steps=args.steps)
        sr = export.describe_model(name)["sample_rate"]
        file = f"{args.model}_{i:05d}.wav"
        audio.save(out / file, x, sr, subtype="FLOAT")
        files.append(file)
        classes.append(cls)
    info = dict(model=args.model, n=args.n, steps=args.steps, seed=args.seed, sr=sr,
                files=files, classes=classes, noise="tl.export.seeded_noise(seed + i): clip i "
                "is the book's live panel's clip for seed + i (float WAV)")  # fmt: skip
    _write_text(out / "samples.json", json.dumps(info, indent=1))
    print(f"Wrote {len(files)} WAV files ({sr} Hz, the live panel's noise) and samples.json "
          f"to {out}/.")  # fmt: skip
    return 0


# --------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------
def _read_folder(path: str, what: str, sr: int) -> Any:
    from .data import AudioFolder, UnreadableAudioWarning

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise CLIError(
            f"{what}: {str(folder)!r} is not a folder. Fix: pass a folder of audio files."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableAudioWarning)
        try:
            ds = AudioFolder(folder, sr=sr, channels=1, labels=None, progress=True)
        except FileNotFoundError as error:
            raise CLIError(f"{what}: {error}") from None
        except ValueError as error:
            raise CLIError(f"{what}: {error}") from None
    for p, why in ds.skipped:
        _err(f"warning: skipped unreadable audio file {p}: {why}")
    return ds


def _paired_scores(real: Any, fake: Any) -> dict[str, float] | None:
    """Spectral convergence and log-spectral distance when the folders hold the same names."""
    from . import metrics

    rel_real = {
        p.relative_to(real.root).with_suffix("").as_posix(): i for i, p in enumerate(real.paths)
    }
    rel_fake = [p.relative_to(fake.root).with_suffix("").as_posix() for p in fake.paths]
    if not rel_fake or any(r not in rel_real for r in rel_fake):
        return None
    sc, lsd = [], []
    for j, rel in enumerate(rel_fake):
        a, b = real.clip(rel_real[rel]), fake.clip(j)
        n = min(a.shape[-1], b.shape[-1])
        if n < metrics.N_FFT // 2 + 1:
            continue
        sc.append(metrics.spectral_convergence(a[..., :n], b[..., :n]))
        lsd.append(metrics.log_spectral_distance(a[..., :n], b[..., :n]))
    if not sc:
        return None
    return {
        "spectral_convergence": float(sum(sc) / len(sc)),
        "log_spectral_distance_db": float(sum(lsd) / len(lsd)),
        "n_pairs": len(sc),
    }


def _cmd_eval(args: argparse.Namespace) -> int:
    from . import metrics

    sr = metrics.EMBEDDING_SR
    real = _read_folder(args.real, "--real", sr)
    fake = _read_folder(args.fake, "--fake", sr)
    reference = _read_folder(args.reference, "--reference", sr) if args.reference else None
    skipped = len(real.skipped) + len(fake.skipped) + (len(reference.skipped) if reference else 0)
    if len(real) < 4:
        raise CLIError(f"--real: need at least 4 readable clips for the floor, found {len(real)}.")
    if len(fake) < 2:
        raise CLIError(f"--fake: need at least 2 readable clips, found {len(fake)}.")
    short = [
        str(p)
        for p, c in zip(real.paths + fake.paths, real._clips + fake._clips, strict=True)
        if c.shape[-1] < metrics.N_FFT // 2 + 1
    ]
    if short:
        raise CLIError(
            f"eval: {len(short)} file(s) are shorter than {metrics.N_FFT // 2 + 1} samples at 16 kHz "
            f"(e.g. {short[0]}). Fix: remove them or pad them."
        )
    results = metrics.evaluate(
        real, fake, reference=reference, bootstrap=args.bootstrap, seed=args.seed
    )
    paired = _paired_scores(real, fake)
    if paired:
        results.update(paired)
    results["skipped_files"] = skipped
    if args.json:
        payload = {
            k: (v.to_dict() if isinstance(v, metrics.MetricResult) else v)
            for k, v in results.items()
        }
        payload = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in payload.items()
        }
        print(json.dumps(payload, indent=1))
    else:
        print(metrics.format_table(results))
    if skipped:
        _err(f"Skipped {skipped} unreadable audio file(s) in total (listed above).")
    return 0


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------
def _device(args: argparse.Namespace, mode: str | None = None, also: str = "") -> Any:
    """``--device`` resolved (``auto``: the GPU in ``full`` mode, else the CPU), printed first
    (followed by ``also`` on the same line)."""
    from . import config

    try:
        device = config.resolve_device(args.device, run_mode=mode)
    except ValueError as err:
        raise CLIError(str(err)) from None
    name = ""
    if device.type == "cuda":
        import torch

        name = f" ({torch.cuda.get_device_name(device)})"
    print(f"Device: {device}{name} (--device {args.device}){also}", flush=True)
    return device


def _cmd_train(args: argparse.Namespace) -> int:
    from . import config, registry

    if args.list:
        return _print_registered(registry.recipes(), "No training recipes are registered yet.")
    _check_registered(args.recipe, registry.recipes(), "recipe", "train")
    mode = args.mode or config.mode()
    out = Path(args.out) if args.out else Path("runs") / args.recipe
    device = _device(args, mode)
    path = registry.run_recipe(args.recipe, mode, out, resume=args.resume, device=device)
    from .distributed import rank_and_world

    rank, world = rank_and_world()
    if rank == 0:
        where = f" on {world} processes" if world > 1 else ""
        print(f"Trained {args.recipe!r} in {mode!r} mode{where}; checkpoint: {path}")
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


# --------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------
#: The library's argument names -> the command's (errors of tl.render name the former).
_RENDER_ARGS = {"path": "FILE", "seconds": "--seconds", "model": "--model", "steps": "--steps",
                "guidance": "--guidance", "seed": "--seed", "device": "--device"}  # fmt: skip


def _render_error(error: Exception) -> CLIError:
    """A ``tl.render`` error in the command's words: ``seconds: ...`` -> ``--seconds: ...``."""
    import re

    message = str(error)
    head = re.match(r"(\w+)\b", message)
    if head and head.group(1) in _RENDER_ARGS:
        message = _RENDER_ARGS[head.group(1)] + message[head.end() :]
    return CLIError(message.replace("seconds=S", "--seconds S"))


def _wav_out(path: str) -> Path:
    out = Path(path).expanduser()
    if out.suffix.lower() != ".wav":
        raise CLIError(f"--out: {path!r} does not end in .wav. Fix: name a WAV file, e.g. "
                       f"--out {out.with_suffix('.wav').name}.")  # fmt: skip
    if out.is_dir():
        raise CLIError(f"--out: {path!r} is a folder. Fix: name a file in it, e.g. "
                       f"--out {out / 'render.wav'}.")  # fmt: skip
    if not out.parent.is_dir():
        raise CLIError(f"--out: the folder {str(out.parent)!r} does not exist. Fix: create it "
                       f"(mkdir -p {out.parent}) or write elsewhere.")  # fmt: skip
    return out


def _cmd_render(args: argparse.Namespace) -> int:
    import time

    from . import audio, render

    source = Path(args.file).expanduser()
    if not source.exists():
        raise CLIError(f"FILE: {args.file!r} does not exist. Fix: pass the path of a MIDI file "
                       f"(.mid), e.g. {PROG} render song.mid --out song.wav.")  # fmt: skip
    out = _wav_out(args.out)
    try:
        piece = render.read_piece(source, seconds=args.seconds)
    except (FileNotFoundError, IsADirectoryError, ValueError, TypeError) as error:
        raise _render_error(error) from None
    part = f" (rendering the first {piece.seconds:.2f} s)" if args.seconds is not None else ""
    seg = "segment" if piece.segments == 1 else "segments"
    device = _device(args, also=(
        f"; {source.name}: {piece.duration:.2f} s{part}, {piece.n_notes} notes, "
        f"{piece.segments} {seg} of {render.SEGMENT_SECONDS:g} s; model {args.model!r}"))  # fmt: skip
    started = time.perf_counter()
    try:
        reference = render.render_soundfont(piece) if args.soundfont else None
        x, sr = render.render_midi(piece, model=args.model,
                                   steps=args.steps, guidance=args.guidance, seed=args.seed,
                                   device=device, progress=True)  # fmt: skip
    except (FileNotFoundError, IsADirectoryError, ValueError, TypeError) as error:
        raise _render_error(error) from None
    audio.save(out, x, sr)
    wrote = [str(out)]
    if reference is not None:
        target = out.with_name(out.name[: -len(out.suffix)] + ".soundfont.wav")
        audio.save(target, reference[0], reference[1])
        wrote.append(f"{target} (the SoundFont render the model learned to imitate)")
    print(f"Wrote {' and '.join(wrote)}: {x.shape[-1] / sr:.2f} s at {sr} Hz "
          f"({time.perf_counter() - started:.1f} s).")  # fmt: skip
    return 0


# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------
def _int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of ``tutorial-lib`` (data, sample, eval, train, render).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The command line of the book 'Diffusion models for audio, by building "
        "them': make datasets, sample registered models, evaluate, train, render MIDI "
        "files.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("data", help="write a dataset as WAV files plus labels.csv",
                       description="Generate a dataset (offline, cached) and write it as WAV "
                       "files plus labels.csv (written last). MIDI clips also get .mid files.")  # fmt: skip
    p.add_argument(
        "name",
        nargs="?",
        help="dataset name (see --list): drums, drums-stereo, notes, guitar, midi",
    )
    p.add_argument("--out", help="output folder")
    p.add_argument("--n", type=_positive_int, default=100, help="number of clips (default 100)")
    p.add_argument(
        "--split",
        default="train",
        choices=("train", "validation", "test"),
        help="split (default train)",
    )
    p.add_argument("--sr", type=_positive_int, help="sample rate in Hz (default: the dataset's)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="dataset seed (default 0)")
    p.add_argument("--length", type=_positive_int, help="samples per clip (drums only)")
    p.add_argument("--seconds", type=float, help="seconds per clip (midi only)")
    p.add_argument(
        "--backend",
        choices=("auto", "soundfont", "parametric"),
        help="sound source (default auto)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--list", action="store_true", help="list the datasets and exit")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("sample", help="write WAV files sampled from a registered model",
                       description="Sample clips from a registered model and write them as WAV "
                       "files plus samples.json (written last).")  # fmt: skip
    p.add_argument("model", nargs="?", help="model name (see --list)")
    p.add_argument("--n", type=_positive_int, default=8, help="number of clips (default 8)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--steps", type=_positive_int, help="sampler steps (default: the model's)")
    p.add_argument("--sampler", help="sampler name (default: the model's)")
    p.add_argument(
        "--seed", type=_nonneg_int, default=0, help="seed of the first batch (default 0)"
    )
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=16,
        help="clips sampled at once (default 16; batch k uses seed + k; memory grows with "
        "--batch, not with --n)",
    )
    p.add_argument("--list", action="store_true", help="list the registered models and exit")
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: the GPU in full mode, else the CPU), cpu, cuda, cuda:N or mps",
    )
    p.add_argument(
        "--page-noise",
        action="store_true",
        help="clip i from the book's live-panel noise for seed + i (tl.export.seeded_noise), "
        "so it equals what the panel makes with that seed (drums-unet* and drums-small-rf; "
        "CPU, float WAV)",
    )
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("eval", help="FD and KID of generated clips against real ones",
                       description="Compare a folder of generated clips with a folder of real "
                       "clips: Fréchet distance and kernel distance on an offline log-mel "
                       "embedding, each beside the real-vs-real floor (the real folder split "
                       "in halves, or --reference). When both folders hold the same file "
                       "names, spectral convergence and log-spectral distance of the pairs "
                       "are added. Unreadable files are reported and skipped.")  # fmt: skip
    p.add_argument("--real", required=True, help="folder of real clips")
    p.add_argument("--fake", required=True, help="folder of generated clips")
    p.add_argument("--reference", help="a second, disjoint folder of real clips for the floor")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--bootstrap",
        type=_nonneg_int,
        default=100,
        help="bootstrap resamples for FD (default 100)",
    )
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the split and resampling")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("train", help="run a registered training recipe",
                       description="Train a model with a registered recipe (as for the book's "
                       "reference checkpoints).")  # fmt: skip
    p.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    p.add_argument(
        "--mode",
        choices=("fast", "book", "full"),
        help="run mode (default: $TUTORIAL_MODE or book)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--out", help="output folder (default runs/RECIPE)")
    p.add_argument("--list", action="store_true", help="list the registered recipes and exit")
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: the GPU in full mode, else the CPU), cpu, cuda, cuda:N or mps",
    )
    p.set_defaults(func=_cmd_train)

    from .families.midi_synth import CHECKPOINTS

    p = sub.add_parser("render", help="render your own MIDI file with chapter 6's model",
                       description="Render a standard MIDI file with the MIDI-to-audio model of "
                       "chapter 6 (segment by segment, Griffin-Lim) and write a 16 kHz WAV "
                       "file; --soundfont also writes the SoundFont render of the same notes "
                       "(the target the model learned to imitate).")  # fmt: skip
    p.add_argument("file", metavar="FILE", help="a standard MIDI file (.mid)")
    p.add_argument("--out", required=True, metavar="FILE.wav", help="the WAV file to write")
    p.add_argument("--model", default="midi-synth", choices=CHECKPOINTS,
                   help="reference model (default midi-synth)")  # fmt: skip
    p.add_argument("--steps", type=_positive_int, help="sampler steps (default: the model's, 50)")
    p.add_argument("--guidance", type=float,
                   help="classifier-free guidance weight (default: the model's, 1)")  # fmt: skip
    p.add_argument("--seed", type=_nonneg_int, default=0, help="noise seed (default 0)")
    p.add_argument("--seconds", type=float,
                   help="render only the first SECONDS (default: the whole piece, up to the "
                   "last note's end, in whole 20 ms frames; at most 120)")  # fmt: skip
    p.add_argument("--soundfont", action="store_true",
                   help="also write the SoundFont render as FILE.soundfont.wav next to --out")  # fmt: skip
    p.add_argument(
        "--device",
        default="auto",
        help="auto (default: the GPU in full mode, else the CPU), cpu, cuda, cuda:N or mps",
    )
    p.set_defaults(func=_cmd_render)
    return parser


_USER_ERRORS = (
    CLIError,
    ValueError,
    TypeError,
    KeyError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    RuntimeError,
    ImportError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tutorial-lib`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    0: success; 2: bad input (message on stderr, no traceback unless ``TUTORIAL_DEBUG=1``).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, argparse errors (already printed)
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except _USER_ERRORS as error:
        if os.environ.get("TUTORIAL_DEBUG", "").strip() not in ("", "0"):
            raise
        message = str(error) if not isinstance(error, KeyError) else str(error.args[0])
        _err(f"{PROG} {args.command}: error: {message}")
        return 2
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted (no half-written files are left behind).")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
