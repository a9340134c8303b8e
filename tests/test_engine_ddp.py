"""DDP on 2 CPU processes (gloo) through torchrun, with MSGR's double backprop; the checkpoint written
by rank 0 loads in a single process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reidlib.engine import load_model

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_msgr(tmp_path):
    from reidlib.data import build_dataset
    from reidlib.engine.profiles import get_profile

    data = tmp_path / "data"
    build_dataset("synthreid", data, **get_profile("smoke", "amfl").dataset_kw)
    runs = tmp_path / "runs"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           f"--master_port={_free_port()}", "-m", "reidlib", "train", "amfl.table3.j", "--profile", "smoke",
           "--data-root", str(data), "--runs-root", str(runs), "--device", "cpu", "--no-progress"]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run = runs / "amfl.table3.j" / "smoke-synthreid-s0"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["world_size"] == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["synthreid"]["rank1"] <= 1
    rows = (run / "log.csv").read_text().splitlines()[1:]
    assert rows and any(float(r.split(",")[8]) > 0 for r in rows), "MSGR penalty missing under DDP"
    assert all(r.split(",")[4] not in ("nan", "inf") for r in rows)
    model = load_model(run)  # single process, no "module." prefixes
    with torch.no_grad():
        emb = model(torch.randn(2, 3, *get_profile("smoke", "amfl").image_size, dtype=torch.float64))  # smoke: float64
    assert emb.ndim == 2 and torch.isfinite(emb).all()


def _ddp_worker(rank: int, world: int, init_file: str, out_file: str) -> None:
    import dataclasses

    import torch.distributed as dist

    from reidlib import experiments
    from reidlib.engine.distributed import DistInfo, wrap_model
    from reidlib.losses import training_step
    from reidlib.models import build_model

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    exp = experiments.get("amfl.table3.l")  # MSGR on x and C2..C5: double backprop through everything
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(exp.model, depth=18, embed_dim=32), 4)
    ddp = wrap_model(model, DistInfo(rank, world, rank), torch.device("cpu"))
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    torch.manual_seed(100 + rank)  # each rank its own batch
    for _ in range(2):
        x, pids = torch.randn(8, 3, 64, 32), torch.arange(4).repeat_interleave(2)
        out = training_step(ddp, x, pids, exp.loss)
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        opt.step()
        opt.zero_grad(set_to_none=True)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    gg = [torch.empty_like(grads) for _ in range(world)]
    dist.all_gather(gg, grads)
    if rank == 0:
        torch.save({"same_params": bool(torch.equal(gathered[0], gathered[1])),
                    "same_grads": bool(torch.equal(gg[0], gg[1])), "msgr": out["msgr"]}, out_file)
    dist.destroy_process_group()


def test_ddp_double_backprop_keeps_ranks_in_sync(tmp_path):
    """The penalty's autograd.grad w.r.t. activations + one backward: DDP all-reduces every gradient
    once, so both ranks hold the same gradients and parameters (with different data)."""
    import torch.multiprocessing as mp

    out = tmp_path / "out.pt"
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    res = torch.load(out, weights_only=True)
    assert res["msgr"] > 0 and res["same_grads"] and res["same_params"]
