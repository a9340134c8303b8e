"""Shared test set-up: deterministic, small, offline."""

import os

import pytest

os.environ.setdefault("TORCH_HOME", os.path.join(os.path.dirname(__file__), ".no-torch-home"))


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
