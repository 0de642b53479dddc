"""Tests for tutorial_lib.distributed, and the Trainer under ``torchrun`` (gloo on the CPU).

Two processes must hold identical weights after training, match one process on the same
global batch, and resume a killed run to the weights of an uninterrupted one; every
registered recipe must run unchanged under ``torchrun --nproc_per_node=2`` in fast mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tutorial_lib as tl

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "ddp_train.py"


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", TUTORIAL_MODE="fast", PYTHONWARNINGS="ignore")
    env.pop("WORLD_SIZE", None)
    return env


def torchrun(*args: str, nproc: int = 2, check: bool = True, timeout: int = 300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", *args]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def alone(*args: str):
    out = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def weights(path: Path) -> dict[str, torch.Tensor]:
    return tl.checkpoints.load(path)[0]


def test_a_single_process_is_rank_0_of_1():
    assert tl.distributed.rank_and_world() == (0, 1)
    assert tl.distributed.init_distributed() == (0, 1)  # no torchrun: nothing to join
    tl.distributed.barrier()  # no process group: returns at once
    assert tl.distributed.shard({"x": torch.arange(4)}, 0, 1)["x"].tolist() == [0, 1, 2, 3]


def test_shard_splits_every_tensor_of_a_batch():
    parts = [tl.distributed.shard({"x": torch.arange(8), "s": "keep"}, r, 2) for r in (0, 1)]
    assert parts[1]["x"].tolist() == [4, 5, 6, 7] and parts[1]["s"] == "keep"
    x, y = torch.arange(12).reshape(6, 2), torch.arange(6)
    got = [tl.distributed.shard((x, [y]), r, 3) for r in range(3)]
    assert torch.equal(torch.cat([g[0] for g in got]), x)  # the shares, in order, are the batch
    assert torch.equal(torch.cat([g[1][0] for g in got]), y)
    assert all(torch.equal(g[0], c) for g, c in zip(got, torch.chunk(x, 3), strict=True))
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        tl.distributed.shard(torch.arange(5), 0, 2)
    with pytest.raises(ValueError, match="rank: expected an integer <= 1"):
        tl.distributed.shard(torch.arange(4), 2, 2)
    with pytest.raises(ValueError, match="world: expected an integer >= 1"):
        tl.distributed.shard(torch.arange(4), 0, 0)


def test_two_processes_agree_with_each_other_and_with_one(tmp_path):
    torchrun(str(SCRIPT), str(tmp_path / "ddp"), "--batch", "8", "--steps", "6")
    alone(str(SCRIPT), str(tmp_path / "one"), "--batch", "8", "--steps", "6")
    r0, r1 = (
        weights(tmp_path / "ddp/rank0.safetensors"),
        weights(tmp_path / "ddp/rank1.safetensors"),
    )
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # every process holds the same weights
    one = weights(tmp_path / "one/rank0.safetensors")
    for k in r0:  # 2 x 4 items with averaged gradients == 8 items in one process
        torch.testing.assert_close(r0[k], one[k], rtol=1e-5, atol=1e-6)
    for r in (0, 1):  # each process computed its half of every batch
        assert (tmp_path / f"ddp/world{r}.txt").read_text() == "2 [4]"
    assert (tmp_path / "one/world0.txt").read_text() == "1 [8]"
    # one writer: the checkpoints exist once, written by rank 0
    assert sorted(p.name for p in (tmp_path / "ddp/ckpt").iterdir()) == [
        "step_00000002.safetensors", "step_00000004.safetensors", "step_00000006.safetensors"]  # fmt: skip


def test_gradient_accumulation_gives_the_same_step(tmp_path):
    alone(str(SCRIPT), str(tmp_path / "acc"), "--batch", "8", "--steps", "4", "--accumulate", "4")
    assert (tmp_path / "acc/world0.txt").read_text() == "1 [2]"  # micro-batches of 2
    alone(str(SCRIPT), str(tmp_path / "one"), "--batch", "8", "--steps", "4")
    a, b = weights(tmp_path / "acc/rank0.safetensors"), weights(tmp_path / "one/rank0.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_a_killed_two_process_run_resumes_to_the_same_weights(tmp_path):
    torchrun(str(SCRIPT), str(tmp_path / "full"), "--steps", "8")
    killed = torchrun(
        str(SCRIPT), str(tmp_path / "cut"), "--steps", "8", "--stop-at", "4", check=False
    )
    assert killed.returncode != 0  # the run died after step 5; its last checkpoint is step 4
    assert not (tmp_path / "cut/rank0.safetensors").exists()
    torchrun(str(SCRIPT), str(tmp_path / "cut"), "--steps", "8", "--resume")
    for name in ("rank0", "rank1", "ema0"):
        a, b = (
            weights(tmp_path / f"full/{name}.safetensors"),
            weights(tmp_path / f"cut/{name}.safetensors"),
        )
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)


def _family_of(recipe: str):
    for name in tl.families.names():
        module = tl.families.get(name)
        if module.RECIPE == recipe:
            return module
    raise LookupError(recipe)


@pytest.mark.parametrize("recipe", sorted(tl.registry.recipes()))
def test_every_recipe_runs_under_torchrun(recipe, tmp_path):
    out = torchrun("-m", "tutorial_lib", "train", recipe, "--mode", "fast", "--out", str(tmp_path),
                   timeout=600)  # fmt: skip
    assert "on 2 processes" in out.stdout and out.stdout.count("Trained") == 1  # rank 0 speaks
    written = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert written == sorted(f"{n}.safetensors" for n in _family_of(recipe).CHECKPOINTS)
