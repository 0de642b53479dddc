"""MIDI synthesis (chapter 6): does the model follow the notes? Measured, with its ablations.

For the checkpoints the ``midi-synth`` recipe wrote (``midi-synth``, ``midi-synth-nocontext``),
on ``n`` held-out MIDI clips (3.84 s, three segments) rendered by the SoundFont, this script
measures with ``tl.families.midi_synth.scores`` (``tl.note_metrics`` on the family's frames: mel L1, retrieval, onset F1, pitch-class
accuracy, error just after segment boundaries):

- ``ceiling``: the real features scored against themselves (the trackers' own accuracy), and
  ``pitch_chance``: the pitch-class accuracy of a tracker that picks a class at random;
- ``model``: the reference model with its defaults (ancestral sampler, 50 steps, guidance 1,
  context = its own previous segment);
- the ablations, cheapest first: ``shuffled`` (every clip gets another clip's notes),
  ``guidance`` 0 / 1 / 2 / 3 / 5, ``context_masked`` (silence as context), ``context_truth``
  (the real previous segment: an upper bound for the context), ``steps`` 10 / 25 / 50 / 100,
  ``no_context`` (the model trained without a context encoder), ``sampler_ddim`` (DDIM, eta
  0, instead of the ancestral sampler) and, with ``--baseline``, ``attention_only``: a model
  trained by the same recipe with the original's conditioning (``fam.ATTENTION_ONLY_CONFIG``:
  the notes by cross-attention only, no piano roll), and ``previous`` with ``--previous``:
  the reference this one replaced, trained by the same recipe with both of the original's
  choices (epsilon prediction, cross-attention only); each of these two also with shuffled
  notes (``*_shuffled``), its own chance level;
- ``transposed``: the notes moved up 5 semitones, scored against the SoundFont render of the
  transposed notes and, for pitch, against the original notes;
- costs: a training step at the recipe's batch, one segment's sampling time, the real-time
  factor of whole pieces (Griffin-Lim included), parameters.

Run (about 15 min on 2 CPU cores with the defaults)::

    tutorial-lib train midi-synth --mode book --out runs/midi-synth
    .venv/bin/python benchmarks/bench_midi_synth.py --weights runs/midi-synth --register \\
        --baseline runs/midi-synth/midi-synth-attention-only.safetensors \\
        --out benchmarks/midi_synth.json

(the baseline: ``scripts/train_midi_synth_baseline.py`` trains it by the same recipe).

``--register`` copies both files into the package (``tl.checkpoints.add_reference``) with
these numbers as their ``metric``: chapter 6 prints them from there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def measure(
    tl: Any,
    weights: Path,
    n: int,
    seed: int = 0,
    baseline: Path | None = None,
    previous: Path | None = None,
) -> dict[str, Any]:
    import torch

    fam = tl.families.midi_synth
    tk = tl.tokens
    nets = {}
    for name in fam.CHECKPOINTS:
        net = fam.build(fam._config(name))
        tl.checkpoints.load_into(net, weights / f"{name}.safetensors", config=fam._config(name))
        nets[name] = net.float().eval()
    net = nets["midi-synth"]
    ds = fam.dataset(n, "test")
    real = fam.features(ds)
    notes = [fam.notes_of(ds, i) for i in range(n)]
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "n_clips": n,
                           "parameters": net.num_parameters(),
                           "parameters_no_context": nets["midi-synth-nocontext"].num_parameters(),
                           "segment_s": fam.FRAMES * fam.HOP / fam.SR, "sampling": dict(fam.SAMPLING),
                           "prediction": fam.PREDICTION}  # fmt: skip

    def run(label: str, **kw: Any) -> dict[str, float]:
        start = time.perf_counter()
        model = kw.pop("model", net)
        which = kw.pop("notes", notes)
        g = fam.generate(which, model=model, seed=seed, truth=real, **kw)
        s = fam.scores(g, real, notes)
        s["seconds"] = time.perf_counter() - start
        print(label, {k: round(v, 3) for k, v in s.items()}, flush=True)
        return s

    out["ceiling"] = fam.scores(real, real, notes)
    out["pitch_chance"] = tl.note_metrics.pitch_chance(notes, real.shape[1], sr=fam.SR, hop=fam.HOP)
    out["model"] = run("model")
    shuffled = [notes[(i + 1) % n] for i in range(n)]
    out["shuffled"] = run("shuffled", notes=shuffled)
    out["guidance"] = {str(w): (out["model"] if w == fam.SAMPLING["guidance"] else run(f"w={w}", guidance=w))
                       for w in (0.0, 1.0, 2.0, 3.0, 5.0)}  # fmt: skip
    out["context_masked"] = run("context masked", context="silence")
    out["context_truth"] = run("context truth", context="truth")
    out["steps"] = {str(k): (out["model"] if k == fam.SAMPLING["steps"] else run(f"steps={k}", steps=k))
                    for k in (10, 25, 50, 100)}  # fmt: skip
    out["no_context"] = run("no context", model=nets["midi-synth-nocontext"])
    out["sampler_ddim"] = run("DDIM", sampler="ddim")
    if baseline is not None:  # the original's conditioning, same recipe (not shipped)
        state, config, meta = tl.checkpoints.load(baseline)
        if config.get("roll") is not None:
            raise ValueError(
                f"--baseline: expected a model without the roll input, got {baseline}."
            )
        base = fam.build(config)
        tl.checkpoints.load_into(base, baseline, config=config)
        base = base.float().eval()
        out["attention_only"] = run("attention only", model=base)
        out["attention_only_shuffled"] = run("attention only, shuffled", model=base, notes=shuffled)
        out["attention_only_steps"] = int(meta["steps"])
    if previous is not None:  # the reference this one replaced: epsilon, cross-attention only
        state, config, meta = tl.checkpoints.load(previous)
        old = fam.build({**config, "roll": None})
        tl.checkpoints.load_into(old, previous, config=config)
        old = old.float().eval()
        out["previous"] = run("previous (eps)", model=old, prediction="eps")
        out["previous_shuffled"] = run("previous (eps), shuffled", model=old, notes=shuffled,
                                       prediction="eps")  # fmt: skip
        out["previous_steps"] = int(meta["steps"])

    # transposition: +5 semitones, against the SoundFont's render of the transposed notes
    up = [tk.transpose(q, 5) for q in notes]
    g = fam.generate(up, model=net, seed=seed)
    rendered = torch.stack([
        tl.data.render_notes(tk.to_tracks(u, fam.programs_of(ds, i)), fam.programs_of(ds, i),
                             sr=fam.SR, seconds=fam.TEST_SECONDS)
        for i, u in enumerate(up)
    ])  # fmt: skip
    real_up = fam.features(rendered)
    s = fam.scores(g, real_up, up)
    s["pitch_accuracy_vs_original_notes"] = tl.note_metrics.pitch_accuracy(
        g, notes, mel=fam.mel_frames()
    )
    s["ceiling_pitch_accuracy"] = tl.note_metrics.pitch_accuracy(real_up, up, mel=fam.mel_frames())
    out["transposed"] = s

    # costs
    settings = fam.train_settings("book")
    out["batch"] = settings["batch"]
    out["train_steps"] = settings["steps"]
    train = fam.build()
    batches = fam._Batches(real, notes, settings["batch"], fam.P_DROP, roll=True)
    opt = torch.optim.AdamW(train.parameters(), lr=1e-4)
    times = []
    for k in range(7):
        b = batches(k)
        start = time.perf_counter()
        fam.loss(train, b).backward()  # the recipe's objective (fam.PREDICTION)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    out["train_s_per_step"] = sum(times[2:]) / 5
    toks = fam.segment_batch(notes[:1], [0])
    start = time.perf_counter()
    tl.samplers.sample_segment(net, toks, real[:1, : fam.FRAMES], **fam.SAMPLING)
    out["segment_sample_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fam.to_audio(real[:8])
    out["griffin_lim_s_per_audio_s"] = (time.perf_counter() - start) / (8 * fam.TEST_SECONDS)
    out["real_time_factor"] = (
        out["segment_sample_s"] / out["segment_s"] + out["griffin_lim_s_per_audio_s"]
    )
    return out


def main() -> None:
    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, required=True,
                        help="folder with midi-synth.safetensors and midi-synth-nocontext.safetensors")  # fmt: skip
    parser.add_argument("--n", type=int, default=32, help="held-out clips")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a midi-synth checkpoint with the other token positions")  # fmt: skip
    parser.add_argument("--previous", type=Path, default=None,
                        help="the previous reference (epsilon, cross-attention only), e.g. "
                             "from git show a5fb66a:src/tutorial_lib/weights/midi-synth.safetensors")  # fmt: skip
    parser.add_argument("--register", action="store_true",
                        help="add both checkpoints to the package with these numbers")  # fmt: skip
    args = parser.parse_args()
    tl.setup(seed=0)
    t0 = time.perf_counter()
    numbers = measure(tl, args.weights, args.n, baseline=args.baseline, previous=args.previous)
    numbers["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(numbers, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.register:
        metric = {k: v for k, v in numbers.items() if k != "seconds"}
        for name, what in (("midi-synth", "MIDI to mel frames, notes and context encoders"),
                           ("midi-synth-nocontext", "the same without a context encoder (ablation)")):  # fmt: skip
            path = args.weights / f"{name}.safetensors"
            meta = tl.checkpoints.load(path)[2]
            ref = tl.checkpoints.add_reference(
                path, name, recipe="midi-synth", steps=int(meta["steps"]),
                metric={**metric, "final_loss": float(meta["final_loss"])},
                description=f"{what}; `tutorial-lib train midi-synth --mode book`.",
            )  # fmt: skip
            print(f"registered {ref.name}: {ref.steps} steps, {ref.file}")


if __name__ == "__main__":
    main()
