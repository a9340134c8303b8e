"""End-to-end engine tests at the smoke profile: one configuration per paper (+ MSGR), reuse, refusal
of a changed configuration, resume after a real SIGKILL, bad configurations, NaN loss."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from reidlib import experiments
from reidlib.engine import (
    ConfigurationError,
    NonFiniteLossError,
    RunConfigMismatchError,
    evaluate_run,
    load_model,
    runs,
    train,
)
from reidlib.engine import profiles as profiles_mod
from reidlib.engine import trainer as trainer_mod

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the 2-core machine is shared, and the subprocess runs use one too."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One tiny SynthReID (smoke size) shared by every test of the session."""
    from reidlib.data import build_dataset

    root = tmp_path_factory.mktemp("data")
    kw = profiles_mod.get_profile("smoke", "amfl").dataset_kw
    build_dataset("synthreid", root, **kw)
    return root


def _cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "reidlib", *args], cwd=REPO, env=e, capture_output=True,
                          text=True, timeout=timeout)


TRAIN_ARGS = ["--profile", "smoke", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="session")
def baseline_run(data_root, tmp_path_factory) -> Path:
    """amfl.table1.a at smoke, trained once through the CLI (the uninterrupted reference run)."""
    runs = tmp_path_factory.mktemp("runs")
    out = _cli("train", "amfl.table1.a", *TRAIN_ARGS, "--data-root", str(data_root), "--runs-root", str(runs))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rank-1" in out.stdout
    return runs / "amfl.table1.a" / "smoke-synthreid-s0"


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _log_values(run_dir: Path) -> list[list[str]]:
    """log.csv without the timing columns."""
    return [r.split(",")[:10] for r in (run_dir / "log.csv").read_text().splitlines()]


def test_baseline_run_folder(baseline_run):
    files = {p.name for p in baseline_run.iterdir()}
    assert {"config.json", "log.csv", "metrics.json", "checkpoint.pt"} <= files
    cfg = json.loads((baseline_run / "config.json").read_text())
    assert cfg["experiment"]["name"] == "amfl.table1.a" and cfg["profile"]["name"] == "smoke"
    assert cfg["model_spec"]["depth"] == 18 and cfg["hash"] and cfg["num_classes"] > 0
    prof = profiles_mod.get_profile("smoke", "amfl")
    assert len(_log_values(baseline_run)) == 1 + prof.epochs * prof.max_iters_per_epoch
    m = _metrics(baseline_run)["synthreid"]
    assert {"rank1", "rank5", "rank10", "mAP", "mINP"} <= set(m) and 0 <= m["rank1"] <= m["rank10"] <= 1
    ckpt = torch.load(baseline_run / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == prof.epochs and ckpt["iteration"] == prof.epochs * prof.max_iters_per_epoch
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "history"} <= set(ckpt)
    # per-query results (for the bootstrap CIs) beside metrics.json, whose summary they reproduce
    pq = json.loads((baseline_run / "per_query.json").read_text())["synthreid"]
    assert "per_query" not in m and len(pq["query"]) == len(pq["rank1"]) == len(pq["ap"]) == m["num_valid_queries"]
    assert sum(pq["rank1"]) / len(pq["rank1"]) == pytest.approx(m["rank1"])
    assert sum(pq["ap"]) / len(pq["ap"]) == pytest.approx(m["mAP"], abs=1e-6)
    model = load_model(baseline_run)
    assert not model.training
    # the smoke profile trains in float64 (CPU-independent nbval numbers); load_model keeps that precision
    assert cfg["profile"]["dtype"] == "float64" and ckpt["model"]["backbone.stem.0.weight"].dtype == torch.float64
    assert {p.dtype for p in model.parameters()} == {torch.float64}


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(baseline_run, data_root, tmp_path):
    args = ["train", "amfl.table1.a", *TRAIN_ARGS, "--data-root", str(data_root), "--runs-root", str(tmp_path)]
    prof = profiles_mod.get_profile("smoke", "amfl")
    kill_at = prof.max_iters_per_epoch + 1  # first iteration of epoch 2, after epoch 1's checkpoint
    killed = _cli(*args, env={"REIDLIB_FAULT_KILL_AT_ITER": str(kill_at)})
    assert killed.returncode == -9, killed.stderr[-3000:]
    run = tmp_path / "amfl.table1.a" / "smoke-synthreid-s0"
    assert not (run / "metrics.json").exists()
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert len(_log_values(run)) == 1 + kill_at  # the killed epoch's rows too (truncated on resume)
    resumed = _cli(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _metrics(run) == _metrics(baseline_run)  # exactly, not approximately
    assert _log_values(run) == _log_values(baseline_run)


def test_reuse_evaluate_run_and_changed_config_refused(baseline_run, data_root, monkeypatch):
    runs_root = baseline_run.parents[1]
    before = (baseline_run / "checkpoint.pt").stat().st_mtime_ns
    monkeypatch.setattr(trainer_mod, "create_model", lambda *a, **k: pytest.fail("retrained"))
    again = train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=runs_root, progress=False)
    assert again.metrics["synthreid"] == _metrics(baseline_run)["synthreid"]
    shared = train("amfl.table3.a", profile="smoke", data_root=data_root, runs_root=runs_root, progress=False)
    assert shared.run_dir == baseline_run  # the same configuration under another name: the same run
    assert (baseline_run / "checkpoint.pt").stat().st_mtime_ns == before
    monkeypatch.undo()
    rr = evaluate_run(baseline_run, rerank=True, device="cpu")
    assert rr == _metrics(baseline_run)["synthreid+rerank"] and 0 <= rr["mAP"] <= 1
    mq = evaluate_run(baseline_run, multi_query=True, device="cpu")
    assert mq == _metrics(baseline_run)["synthreid+mq"]
    cross = evaluate_run(baseline_run, dataset="synthreid-duke", data_root=data_root, device="cpu")
    assert cross == _metrics(baseline_run)["synthreid-duke"] and 0 <= cross["rank1"] <= 1
    pq = json.loads((baseline_run / "per_query.json").read_text())
    assert {"synthreid", "synthreid+rerank", "synthreid+mq", "synthreid-duke"} <= set(pq)
    assert sum(pq["synthreid-duke"]["rank1"]) / len(pq["synthreid-duke"]["rank1"]) == pytest.approx(cross["rank1"])
    # the same name with a changed profile: refused before any work, naming the folder to delete
    real = profiles_mod.get_profile
    monkeypatch.setattr(trainer_mod, "get_profile", lambda p, r: dataclasses.replace(real(p, r), lr=1e-2))
    with pytest.raises(RunConfigMismatchError, match="delete the folder"):
        train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=runs_root, progress=False)


@pytest.mark.parametrize("name", ["mmps.table2.ours", "amfl.table3.j"])
def test_smoke_run_end_to_end(name, data_root, tmp_path):
    """One configuration of the other paper, and one with MSGR (double backprop on x, C2, C3)."""
    res = train(name, profile="smoke", data_root=data_root, runs_root=tmp_path, progress=False)
    assert res.run_dir == tmp_path / experiments.canonical(name) / "smoke-synthreid-s0"
    assert set(res.metrics) == {"synthreid"} and 0 <= res.metrics["synthreid"]["mAP"] <= 1
    rows = _log_values(res.run_dir)[1:]
    if experiments.get(name).loss.msgr_sigma > 0:
        assert all(float(r[8]) > 0 for r in rows), "MSGR penalty not logged"
    else:
        assert all(float(r[8]) == 0 for r in rows)


def test_unknown_name_cli_error():
    out = _cli("train", "amfl.table1.z", "--profile", "smoke")
    assert out.returncode == 2 and "unknown configuration 'amfl.table1.z'" in out.stderr
    assert "amfl.table1." in out.stderr  # close matches suggested


def test_negative_sigma_refused_before_any_work(tmp_path):
    bad = dataclasses.replace(experiments.get("amfl.table3.c"), name="test.bad.sigma",
                              loss=dataclasses.replace(experiments.get("amfl.table3.c").loss, msgr_sigma=-1.0))
    experiments.REGISTRY[bad.name] = bad
    try:
        with pytest.raises(ConfigurationError, match="msgr_sigma = -1.0"):
            train(bad.name, profile="smoke", runs_root=tmp_path)
    finally:
        del experiments.REGISTRY[bad.name]
    assert not any(tmp_path.iterdir())


def test_k_above_every_identity_without_replacement(data_root, tmp_path, monkeypatch):
    real = profiles_mod.get_profile
    monkeypatch.setattr(trainer_mod, "get_profile", lambda p, r: dataclasses.replace(
        real(p, r), k=10_000, sample_with_replacement=False))
    with pytest.raises(ConfigurationError, match="K = 10000 images per identity"):
        train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_data_root_without_the_dataset(tmp_path):
    from reidlib.data import ReidDataError

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReidDataError, match=str(empty)):
        train("amfl.table1.a", profile="smoke", dataset="market1501", data_root=empty,
              runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_nan_loss_stops_naming_epoch_iteration_checkpoint(data_root, tmp_path, monkeypatch):
    import reidlib.losses

    real = reidlib.losses.training_step
    calls = {"n": 0}

    def poisoned(*a, **k):
        out = real(*a, **k)
        calls["n"] += 1
        return dict(out, loss=float("nan")) if calls["n"] == 3 else out

    monkeypatch.setattr(reidlib.losses, "training_step", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, iteration 3 .*checkpoint.pt \(after epoch 1\)"):
        train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=tmp_path, progress=False)


def test_two_processes_never_share_a_run_folder(data_root, tmp_path):
    """Two processes asked for the same run at once: one trains, the other waits on the run's lock and
    reuses it (without the lock both would write one log.csv and checkpoint)."""
    args = [sys.executable, "-m", "reidlib", "train", "amfl.table1.a", *TRAIN_ARGS, "--data-root", str(data_root),
            "--runs-root", str(tmp_path)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    run = tmp_path / "amfl.table1.a" / "smoke-synthreid-s0"
    iterations = [int(r.split(",")[1]) for r in (run / "log.csv").read_text().splitlines()[1:]]
    assert iterations == list(range(1, len(iterations) + 1)) and iterations  # each iteration logged once
    assert outs[0][0] == outs[1][0] and "rank-1" in outs[0][0]


def test_train_at_once_trains_side_by_side_with_the_same_numbers(data_root, tmp_path, monkeypatch):
    """A profile that fixes its thread count trains its runs in parallel processes (two here, as on the
    2-core machine), with the numbers of training them one after the other."""
    from reidlib import paths, reproduce

    smoke = profiles_mod.get_profile("smoke", "amfl")
    monkeypatch.setattr(reproduce, "get_profile", lambda p, r: dataclasses.replace(smoke, threads=1))
    monkeypatch.setattr(paths, "runs_root", lambda p: tmp_path / "parallel")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    runs = [("amfl.table1.a", "synthreid", 0), ("amfl.table1.a", "synthreid", 1)]
    assert reproduce.train_at_once(runs, profile="smoke", data_root=str(data_root), device="cpu") == 2
    name, ds, seed = runs[1]  # both processes run the same code: one of them, retrained alone, suffices
    parallel = _metrics(tmp_path / "parallel" / name / f"smoke-{ds}-s{seed}")[ds]
    alone = train(name, profile="smoke", dataset=ds, data_root=data_root, seed=seed, device="cpu",
                  runs_root=tmp_path / "alone", progress=False).metrics[ds]
    assert parallel["rank1"] == alone["rank1"] and parallel["mAP"] == pytest.approx(alone["mAP"], abs=1e-9)
    other, other_ds, other_seed = runs[0]
    assert (tmp_path / "parallel" / other / f"smoke-{other_ds}-s{other_seed}" / "metrics.json").is_file()
    monkeypatch.setattr(reproduce, "get_profile", lambda p, r: smoke)  # no fixed thread count: nothing to do here
    assert reproduce.train_at_once(runs, profile="smoke", data_root=str(data_root)) == 1


@pytest.mark.parametrize("native", [False, True])
def test_bf16_autocast_only_where_the_cpu_computes_bf16(native, data_root, tmp_path, monkeypatch):
    """The cpu profile's bf16 autocast is a speed lever: a CPU without AVX512-BF16 / AMX (where oneDNN
    emulates bf16, several times slower than float32) trains in float32, warns, and records it in
    config.json; the run keeps its identity (hash) either way."""
    real = profiles_mod.get_profile
    monkeypatch.setattr(trainer_mod, "get_profile", lambda p, r: dataclasses.replace(real(p, r), cpu_autocast="bfloat16"))
    monkeypatch.setattr(trainer_mod, "native_bf16", lambda: native)
    used, real_epoch = [], trainer_mod.train_epoch
    monkeypatch.setattr(trainer_mod, "train_epoch", lambda *a: used.append(a[19]) or real_epoch(*a))
    if native:
        run = train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=tmp_path, progress=False)
    else:
        with pytest.warns(UserWarning, match="no native bf16 .* training in float32"):
            run = train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=tmp_path, progress=False)
    assert used == [torch.bfloat16 if native else None] * 2  # the smoke profile's two epochs
    cfg = json.loads((run.run_dir / "config.json").read_text())
    assert cfg["cpu_autocast_used"] == ("bfloat16" if native else None)
    other = {**cfg, "cpu_autocast_used": "bfloat16" if not native else None}
    assert runs.config_hash(other) == cfg["hash"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a finished run is only read: nothing trains, nothing to say
        assert train("amfl.table1.a", profile="smoke", data_root=data_root, runs_root=tmp_path,
                     progress=False).metrics == run.metrics
