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
        emb = model(torch.randn(2, 3, *get_profile("smoke", "amfl").image_size))
    assert emb.ndim == 2 and torch.isfinite(emb).all()
