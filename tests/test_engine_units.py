"""Engine pieces that need no training: profiles, run registry, checkpoints, validation, log truncation."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from reidlib import experiments
from reidlib.engine import checkpoint, runs
from reidlib.engine.profiles import UnknownProfileError, get_profile
from reidlib.engine.trainer import ConfigurationError, _open_log, validate_experiment


def test_paper_profiles_are_the_papers_recipes():
    a = get_profile("paper", "amfl")
    assert (a.lr, a.milestones, a.epochs, a.p, a.k, a.image_size) == (3.5e-4, (40, 70), 120, 8, 4, (256, 128))
    assert a.pretrained == "imagenet" and a.amp and a.gamma == 0.1
    m = get_profile("paper", "mmps")
    assert (m.lr, m.milestones, m.epochs, m.p, m.k, m.image_size) == (1e-3, (70, 140), 150, 8, 15, (384, 128))


@pytest.mark.parametrize("recipe", ["amfl", "mmps"])
def test_cpu_profile_fine_tunes_the_standin_and_overrides_fit_modelspec(recipe):
    from reidlib.engine.profiles import CPU_STANDIN, PRETRAIN_DATA_SEED

    cpu = get_profile("cpu", recipe)
    assert cpu.pretrained == CPU_STANDIN.ref == f"standin-{CPU_STANDIN.digest()}"
    assert CPU_STANDIN.data_seed == PRETRAIN_DATA_SEED != 0  # identities no table evaluates
    assert cpu.model_overrides == {"depth": 18} and cpu.threads == 1 and cpu.dataset_kw == {"test_scale": 3.0}
    assert all(0 < m < cpu.epochs for m in cpu.milestones) and cpu.eval_every == cpu.epochs
    for prof in ("smoke", "cpu", "paper"):
        dataclasses.replace(experiments.ModelSpec(), **get_profile(prof, recipe).model_overrides)


def test_smoke_profile_runs_in_float64_others_in_float32():
    for recipe in ("amfl", "mmps"):
        assert get_profile("smoke", recipe).torch_dtype == torch.float64
        assert get_profile("cpu", recipe).torch_dtype == get_profile("paper", recipe).torch_dtype == torch.float32
    with pytest.raises(UnknownProfileError, match="dtype 'float16'"):
        _ = dataclasses.replace(get_profile("cpu", "amfl"), dtype="float16").torch_dtype


def test_unknown_profile_and_recipe():
    with pytest.raises(UnknownProfileError, match="unknown profile 'fast'"):
        get_profile("fast", "amfl")
    with pytest.raises(UnknownProfileError, match="unknown recipe"):
        get_profile("cpu", "xyz")


def test_registry_new_resume_finished_and_mismatch(tmp_path):
    path = runs.run_dir(tmp_path, "amfl.table1.a", "smoke", "synthreid", 3)
    assert path == tmp_path / "amfl.table1.a" / "smoke-synthreid-s3"
    cfg = {"name": "amfl.table1.a", "profile": {"epochs": 2}, "dataset": "synthreid", "seed": 3,
           "data_root": "/somewhere"}
    assert runs.prepare(path, dict(cfg)) == "new"
    assert runs.prepare(path, dict(cfg, data_root="/elsewhere")) == "resume"  # informational key
    runs.write_json(path / runs.METRICS, {"synthreid": {"rank1": 0.5}})
    assert runs.prepare(path, dict(cfg)) == "finished"
    with pytest.raises(runs.RunConfigMismatchError, match=r"delete the folder .*smoke-synthreid-s3") as e:
        runs.prepare(path, dict(cfg, profile={"epochs": 3}))
    assert "profile" in str(e.value)


def test_checkpoint_roundtrip_weights_only_and_rng(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 3], gamma=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched.step()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    checkpoint.save_checkpoint(tmp_path / "c.pt", model=model, optimizer=opt, scheduler=sched, scaler=scaler,
                               epoch=1, iteration=7, history=[{"epoch": 1, "rank1": 0.1}], config_hash="abc")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    ckpt = checkpoint.load_checkpoint(tmp_path / "c.pt", "abc")  # weights_only=True inside
    checkpoint.set_rng_state(ckpt["rng"][0])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])
    assert ckpt["epoch"] == 1 and ckpt["iteration"] == 7 and ckpt["history"][0]["rank1"] == 0.1
    sched2 = torch.optim.lr_scheduler.MultiStepLR(torch.optim.Adam(model.parameters()), [9])
    sched2.load_state_dict(ckpt["scheduler"])
    assert sched2.last_epoch == 1 and sched2.milestones == sched.milestones
    with pytest.raises(checkpoint.CheckpointError, match="belongs to configuration abc"):
        checkpoint.load_checkpoint(tmp_path / "c.pt", "other")
    (tmp_path / "bad.pt").write_bytes(b"truncated")
    with pytest.raises(checkpoint.CheckpointError, match="bad.pt"):
        checkpoint.load_checkpoint(tmp_path / "bad.pt")


def _with_loss(**kw) -> experiments.Experiment:
    exp = experiments.get("amfl.table3.c")
    return dataclasses.replace(exp, loss=dataclasses.replace(exp.loss, **kw))


@pytest.mark.parametrize("kw, match", [
    (dict(msgr_sigma=-1e-2), "msgr_sigma = -0.01"),
    (dict(exclusivity=-1e-7), "exclusivity = -1e-07"),
    (dict(msgr_taps=("C7",)), "unknown MSGR taps"),
    (dict(msgr_norm=0.5), "msgr_norm"),
    (dict(label_smoothing=1.0), "label_smoothing"),
])
def test_bad_loss_settings_refused(kw, match):
    with pytest.raises(ConfigurationError, match=match):
        validate_experiment(_with_loss(**kw))


def test_every_registered_configuration_validates():
    for name in experiments.names():
        validate_experiment(experiments.get(name))


def test_log_truncated_to_checkpoint_iteration(tmp_path):
    log = tmp_path / "log.csv"
    fh = _open_log(log, 0)
    for it in range(1, 6):
        fh.write(f"1,{it},{it},0.1,1,1,0,0,0,0,10,0\n")
    fh.close()
    _open_log(log, 3).close()
    rows = log.read_text().splitlines()
    assert rows[0].startswith("epoch,iteration") and [r.split(",")[1] for r in rows[1:]] == ["1", "2", "3"]


def test_rows_that_train_the_same_thing_share_one_run():
    from reidlib import experiments

    assert experiments.canonical("amfl.table4.resnet50") == "amfl.table1.a" == experiments.canonical("amfl.table3.a")
    assert experiments.canonical("amfl.table4.rerank") == "amfl.table4.msgr"  # re-ranking is evaluation only
    assert experiments.canonical("mmps.fig4.lam1e-7") == "mmps.table1.ours"
    assert experiments.canonical("amfl.table1.b") == "amfl.table1.b"


def test_run_lock_is_exclusive_and_released(tmp_path):
    import fcntl

    path = runs.run_dir(tmp_path / "runs", "amfl.table1.a", "cpu", "synthreid", 0)
    with runs.locked(path):
        path.mkdir()  # the run's folder, as train() makes it
        with open(path.parent / ".cpu-synthreid-s0.lock") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(path.parent / ".cpu-synthreid-s0.lock") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    refused = runs.run_dir(tmp_path / "other", "amfl.table1.a", "cpu", "synthreid", 0)
    with pytest.raises(ValueError), runs.locked(refused):
        raise ValueError("refused before any work")
    assert not (tmp_path / "other").exists()  # no lock file, no folder left behind


def test_a_finished_run_without_its_checkpoint_says_why_it_matters(tmp_path):
    from reidlib.engine import evaluate_run, load_model

    path = runs.run_dir(tmp_path, "amfl.table1.a", "cpu", "synthreid", 0)
    runs.prepare(path, {"name": "amfl.table1.a", "dataset": "synthreid", "seed": 0})
    with pytest.raises(FileNotFoundError, match="not finished an epoch"):
        load_model(path)
    runs.write_json(path / runs.METRICS, {"synthreid": {"rank1": 0.5, "mAP": 0.4}})
    assert evaluate_run(path) == {"rank1": 0.5, "mAP": 0.4}  # a table rebuilds from metrics.json alone
    with pytest.raises(FileNotFoundError, match="checkpoints are not in git.*new evaluation or figure"):
        load_model(path)
