"""Training-step time and peak memory: the book's UNet1d against diffusers' UNet1DModel.

Both networks are built at a similar parameter count (about 1 M) and trained for one step
(v-diffusion loss, backward, AdamW) on the seed's clip format, 32768 samples of 44.1 kHz
stereo, batch 1, and on the chapter's format (16 kHz mono, 8192 samples, batch 12). Each
measurement runs in a fresh process (``peak_step_memory``: ``torch.cuda.max_memory_allocated``
on a GPU, the peak growth of resident memory on a CPU); time is the median of 3 further steps.

diffusers' ``UNet1DModel`` is the Dance Diffusion U-Net: Fourier time features concatenated
to the input as extra channels (no FiLM in every block), cubic-kernel down/upsampling by 2,
attention in the lowest blocks.

Run: .venv/bin/python benchmarks/bench_unet1d.py [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time, torch
import tutorial_lib.families.drums_unet as dm
from tutorial_lib import vdiffusion
from tutorial_lib.models.unet1d import UNet1d
from tutorial_lib.memory import peak_step_memory
a = json.loads(sys.argv[1])
torch.manual_seed(0)
dev = torch.device(a["device"])
C, T, B = a["channels"], a["length"], a["batch"]
if a["model"] == "tutorial_lib UNet1d":
    net = UNet1d(**dict(dm.CONFIG, in_channels=C, classes=None)).to(dev)
    fn = lambda x, t: net(x, t)
else:
    from diffusers import UNet1DModel
    n = 7
    net = UNet1DModel(
        sample_size=T, in_channels=C, out_channels=C, extra_in_channels=32,
        time_embedding_type="fourier", flip_sin_to_cos=True, use_timestep_embedding=False,
        block_out_channels=(16, 32, 32, 48, 64, 64, 80),
        down_block_types=("DownBlock1DNoSkip",) + ("DownBlock1D",) * (n - 3) + ("AttnDownBlock1D",) * 2,
        up_block_types=("AttnUpBlock1D",) * 2 + ("UpBlock1D",) * (n - 3) + ("UpBlock1DNoSkip",),
        mid_block_type="UNetMidBlock1D", layers_per_block=1,
    ).to(dev)
    fn = lambda x, t: net(x, t).sample
params = sum(p.numel() for p in net.parameters())
opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
def step(m, x0):
    t = torch.rand(x0.shape[0], device=dev)
    eps = torch.randn_like(x0)
    loss = (fn(vdiffusion.noise(x0, t, eps), t) - vdiffusion.v_target(x0, eps, t)).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
x0 = 0.1 * torch.randn(B, C, T, device=dev)
r = peak_step_memory(net, x0, step)
times = []
for _ in range(3):
    if dev.type == "cuda":
        torch.cuda.synchronize()
    s = time.perf_counter()
    step(net, x0)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times.append(time.perf_counter() - s)
r.update(parameters=params, step_s=statistics.median(times))
print("RESULT" + json.dumps(r))
"""

CASES = [
    ("seed: 44.1 kHz stereo, 32768 samples, batch 1", dict(channels=2, length=32768, batch=1)),
    ("chapter: 16 kHz mono, 8192 samples, batch 12", dict(channels=1, length=8192, batch=12)),
]
MODELS = ("tutorial_lib UNet1d", "diffusers UNet1DModel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    try:
        from bench_data import machine

        print(f"Machine: {machine()}\n")
    except ImportError:
        pass
    print("| case | model | parameters | step (s) | peak memory (MiB) | method |")
    print("|---|---|---|---|---|---|")
    for case, kw in CASES:
        for model in MODELS:
            spec = dict(kw, model=model, device=args.device)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True
            )
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
            if not lines:
                print(f"| {case} | {model} | failed: {out.stderr.strip().splitlines()[-1]} |||")
                continue
            r = json.loads(lines[0][6:])
            print(
                f"| {case} | {model} | {r['parameters']:,} | {r['step_s']:.2f} | "
                f"{r['bytes'] / 2**20:.0f} | {r['method']} |"
            )


if __name__ == "__main__":
    main()
