"""Shared test set-up: deterministic, small, offline."""

import os

import pytest

os.environ.setdefault("TORCH_HOME", os.path.join(os.path.dirname(__file__), ".no-torch-home"))

# Under pytest-xdist (`make test`: one worker per core) each worker's torch gets its share of the cores,
# so that the workers do not oversubscribe them; set before torch is imported (subprocesses inherit it).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))


@pytest.fixture(autouse=True)
def _seed_everything():
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """One intra-op thread for the test (the 2-core machine is shared; results depend on the count)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory):
    """(smoke profile, the smoke SynthReID rendered in a temporary folder, an untrained float64 baseline)."""
    import dataclasses

    import torch

    from reidlib import experiments
    from reidlib.data import build_dataset
    from reidlib.engine.profiles import get_profile
    from reidlib.models import build_model

    prof = get_profile("smoke", "amfl")
    ds = build_dataset("synthreid", tmp_path_factory.mktemp("data"), **prof.dataset_kw)
    torch.manual_seed(0)
    spec = dataclasses.replace(experiments.get("amfl.table1.a").model, **prof.model_overrides)
    return prof, ds, build_model(spec, ds.num_train_pids, dtype=prof.torch_dtype)
