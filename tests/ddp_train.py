"""A tiny training run for tests/test_distributed.py, under torchrun or alone.

    python tests/ddp_train.py OUT --batch 8 --steps 6 [--stop-at K] [--resume] [--accumulate A]

A linear model fits a fixed random regression with a deterministic loss (no noise inside
the loss), so a run on 2 processes can be compared with a single process on the same global
batch. Each process writes its final weights to ``OUT/rank<r>.safetensors``; ``--stop-at K``
kills the run abruptly (``os._exit``) after step K, as a crash or a pre-emption would.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

import tutorial_lib as tl


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--stop-at", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--accumulate", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x_all = torch.randn(64, 5, generator=g)
    y_all = x_all @ torch.randn(5, 3, generator=g) + 0.1 * torch.randn(64, 3, generator=g)
    torch.manual_seed(1)
    model = torch.nn.Linear(5, 3)

    def batches(step: int):
        idx = torch.randint(0, 64, (args.batch,))
        return {"x": x_all[idx], "y": y_all[idx]}

    seen: list[int] = []

    def loss_fn(net, b):
        seen.append(len(b["x"]))
        return ((net(b["x"]) - b["y"]) ** 2).mean()

    trainer = tl.training.Trainer(
        model, loss_fn, batches, max_steps=args.steps, lr=0.05, ema_decay=0.9, progress=False,
        ckpt_dir=args.out / "ckpt", ckpt_every=2, keep=None, seed=3, accumulate=args.accumulate,
    )  # fmt: skip
    if args.stop_at is not None:
        original = trainer._train_step

        def step_then_maybe_die(start: float) -> float:
            value = original(start)
            if trainer.step == args.stop_at + 1:  # the step after a checkpoint: lost work
                os._exit(1)
            return value

        trainer._train_step = step_then_maybe_die
    trainer.fit(resume=args.resume, overwrite=not args.resume)
    rank, world = tl.distributed.rank_and_world()
    tl.checkpoints.save(args.out / f"rank{rank}.safetensors", trainer.model)
    tl.checkpoints.save(args.out / f"ema{rank}.safetensors", trainer.ema_model)
    (args.out / f"world{rank}.txt").write_text(f"{world} {sorted(set(seen))}")


if __name__ == "__main__":
    main()
