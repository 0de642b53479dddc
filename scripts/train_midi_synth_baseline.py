"""Train chapter 6's comparison model: the midi-synth recipe with the original's conditioning.

``fam.ATTENTION_ONLY_CONFIG`` is the shipped network without the piano-roll input: the notes
reach the decoder by cross-attention only, as in Spectrogram Diffusion. Everything else is
the ``midi-synth`` recipe of the chosen mode (data, steps, batch, objective, seed). The file is
not shipped; ``benchmarks/bench_midi_synth.py --baseline FILE`` scores it next to the
reference, and chapter 6 prints that row from the registry.

Run (book mode: about 20 min on 2 CPU cores)::

    .venv/bin/python scripts/train_midi_synth_baseline.py --mode book \\
        --out runs/midi-synth/midi-synth-attention-only.safetensors
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    import torch

    import tutorial_lib as tl
    from tutorial_lib.families import midi_synth as fam

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("fast", "book", "full"), default="book")
    parser.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: auto)")
    args = parser.parse_args()
    if args.out.suffix != ".safetensors":
        parser.error(f"--out: expected a .safetensors file, got {args.out}.")
    tl.setup(seed=0)
    s = fam.train_settings(args.mode)
    device = tl.resolve_device(args.device, run_mode=args.mode)
    start = time.perf_counter()
    trainer = fam._trainer(s, "midi-synth", args.out.parent / "ckpt-attention-only",
                           device=device, config=fam.ATTENTION_ONLY_CONFIG)  # fmt: skip
    trainer.fit(overwrite=True)
    meta = {"recipe": fam.RECIPE, "mode": args.mode, "variant": "attention-only",
            **{f"setting_{k}": v for k, v in s.items()}}  # fmt: skip
    trainer.export(args.out, dtype=torch.float16, metadata=meta)
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
