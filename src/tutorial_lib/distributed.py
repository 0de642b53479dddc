"""Many processes with PyTorch's own engine: the helpers the trainer uses under ``torchrun``.

Launched by ``torchrun --nproc_per_node=N``, every process runs the same script. The
:class:`~tutorial_lib.training.Trainer` then joins the process group
(:func:`init_distributed`: NCCL on GPUs, gloo on CPUs), wraps the model in
``DistributedDataParallel`` (:func:`wrap_ddp`), gives each process its share of every global
batch (:func:`shard`) and lets rank 0 alone write files, the others waiting at a
:func:`barrier`. In a single process (no ``torchrun``) every helper is a no-op:
:func:`rank_and_world` is ``(0, 1)``. A recipe needs none of this itself; a script that
writes its own files asks :func:`rank_and_world` which process it is.

Example::

    rank, world = tl.distributed.rank_and_world()
    if rank == 0:
        tl.checkpoints.save("model.safetensors", trainer.model)

Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ._validate import check_int

__all__ = ["barrier", "init_distributed", "rank_and_world", "shard", "wrap_ddp"]


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless a process group is running.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the
    environment); ``(rank, world_size)``. NCCL when CUDA GPUs are there, gloo otherwise.
    A single process (no ``torchrun``) gets ``(0, 1)`` and nothing changes.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return rank_and_world()


def barrier() -> None:
    """Wait until every process has arrived here (nothing to wait for in a single process).

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shard(batch: Any, rank: int, world: int, what: str = "batch") -> Any:
    """Process ``rank``'s contiguous share of a batch split ``world`` ways (tensors split
    along dim 0; dicts, namedtuples and sequences recursively; anything else passed unchanged).

    The trainer gives each process its share of the global batch this way, and splits a
    batch into micro-batches for gradient accumulation. ``what`` names the batch in the
    error raised when its size does not divide by ``world``.

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    import torch

    world = check_int(world, "world", min_value=1)
    rank = check_int(rank, "rank", min_value=0, max_value=world - 1)
    if world == 1:
        return batch
    if torch.is_tensor(batch):
        n = batch.shape[0] if batch.ndim else 0
        if n == 0 or n % world:
            raise ValueError(
                f"{what}: {n} items cannot be split evenly over {world} processes. Fix: a batch "
                f"size that is a multiple of the number of processes (torchrun --nproc_per_node)."
            )
        k = n // world
        return batch[rank * k : (rank + 1) * k]
    if isinstance(batch, Mapping):
        return {key: shard(v, rank, world, what) for key, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(shard(v, rank, world, what) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard(v, rank, world, what) for v in batch)
    return batch


def wrap_ddp(model: Any, device: Any) -> Any:
    """``DistributedDataParallel`` around ``model`` that still answers the model's own
    attributes (``net.has_context``), so loss functions work unchanged.

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    from torch.nn.parallel import DistributedDataParallel

    class _DDP(DistributedDataParallel):
        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.module, name)

    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    return _DDP(model, device_ids=ids, find_unused_parameters=True)
