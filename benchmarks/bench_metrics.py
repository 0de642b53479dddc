"""Metric time for 1,000 clips (drums, 16 kHz mono, 16384 samples = 1.02 s each).

Run: .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import time

from bench_data import machine

import tutorial_lib as tl

M = tl.metrics


def timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"| {label} | {time.perf_counter() - start:.2f} |")
    return out


def main() -> None:
    print(f"Machine: {machine()}\n")
    real = tl.data.drums(1000, split="train", progress=False)
    fake = tl.data.drums(1000, split="test", progress=False)
    held = tl.data.drums(1000, split="validation", progress=False)
    x_real = real.tensors()
    print("| metric, 1,000 vs 1,000 clips | seconds |")
    print("|---|---|")
    e_real = timed("embed 1,000 clips (log-mel statistics)", lambda: M.embed(x_real, 16000))
    e_fake = M.embed(fake)
    e_held = M.embed(held)
    timed("Fréchet distance, no bootstrap", lambda: M.frechet_distance(e_real, e_fake, bootstrap=0))
    timed(
        "Fréchet distance, 100 bootstrap resamples",
        lambda: M.frechet_distance(e_real, e_fake, bootstrap=100),
    )
    timed("kernel distance (KID), 100 subsets of 500", lambda: M.kernel_distance(e_real, e_fake))
    timed(
        "evaluate from audio (embed 2,000 clips, FD + floor, KID + floor)",
        lambda: M.evaluate(x_real, fake.tensors(), sr=16000),
    )
    timed("spectral convergence + log-spectral distance, 1,000 pairs",
          lambda: (M.spectral_convergence(x_real, fake.tensors()), M.log_spectral_distance(x_real, fake.tensors())))  # fmt: skip
    timed("class check (logistic, train 1,000, classify 1,000 + 1,000)",
          lambda: M.class_check(e_fake, fake.labels, train=e_real, train_labels=real.labels,
                                test=e_held, test_labels=held.labels))  # fmt: skip
    timed("memorisation check, log-mel (1,000 fake, 1,000 real vs 1,000 train)",
          lambda: M.memorisation_check(fake, real, real=held))  # fmt: skip
    r = M.evaluate(e_real, e_fake, reference=e_held)
    print(
        f"\nFD test vs train {r['fd'].value:.3g}, floor validation vs train {r['fd_floor'].value:.3g}"
    )


if __name__ == "__main__":
    main()
