"""PKSampler (batch structure, coverage, determinism, DDP shares) and the recipes' transforms."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from reidlib.data import PKSampler, build_transforms

# 11 identities with 1..11 images each: several have fewer than K
PIDS = [pid for pid in range(11) for _ in range(pid + 1)]


def batches_of(sampler: PKSampler) -> list[list[int]]:
    idx = list(sampler)
    n = sampler.p * sampler.k
    assert len(idx) == len(sampler) == sampler.batches_per_epoch * n
    return [idx[i:i + n] for i in range(0, len(idx), n)]


@pytest.mark.parametrize(("p", "k"), [(4, 4), (3, 2), (11, 1)])
def test_pk_structure_and_coverage(p: int, k: int) -> None:
    sampler = PKSampler(PIDS, p=p, k=k, seed=3)
    seen = set()
    for batch in batches_of(sampler):
        pids = [PIDS[i] for i in batch]
        blocks = [pids[j * k:(j + 1) * k] for j in range(p)]
        assert all(len(set(b)) == 1 for b in blocks)  # K contiguous images of one identity
        assert len({b[0] for b in blocks}) == p  # P distinct identities
        seen |= set(pids)
    assert seen == set(PIDS)  # every identity used in the epoch


def test_pk_replacement_for_small_identities() -> None:
    sampler = PKSampler(PIDS, p=11, k=4, seed=0)
    (batch,) = batches_of(sampler)[:1]
    counts = Counter(batch)
    assert any(c > 1 for c in counts.values())  # pid 0 has one image, drawn 4 times
    assert counts[PIDS.index(0)] == 4


def test_pk_seeded_and_epoch_dependent() -> None:
    a, b = PKSampler(PIDS, 4, 4, seed=1), PKSampler(PIDS, 4, 4, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(PKSampler(PIDS, 4, 4, seed=2)) != list(PKSampler(PIDS, 4, 4, seed=1))


@pytest.mark.parametrize("world", [2, 3])
def test_pk_ddp_shares(world: int) -> None:
    full = PKSampler(PIDS, 3, 2, seed=5)
    ranks = [PKSampler(PIDS, 3, 2, seed=5, rank=r, world_size=world) for r in range(world)]
    for s in [full, *ranks]:
        s.set_epoch(2)
    lens = {len(r) for r in ranks}
    assert len(lens) == 1  # all ranks yield the same number of batches
    assert ranks[0].batches_per_epoch * world >= full.batches_per_epoch
    shares = [batches_of(r) for r in ranks]
    assert sum(len(s) for s in shares) == ranks[0].batches_per_epoch * world
    seen = {PIDS[i] for s in shares for batch in s for i in batch}
    assert seen == set(PIDS)
    global_batches = [list(b) for b in full.batches(2)]
    assert shares[0][0] == global_batches[0] and shares[1][0] == global_batches[1]


def test_pk_loader_and_bad_args() -> None:
    sampler = PKSampler(PIDS, 4, 2)
    data = torch.tensor(PIDS)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=8, sampler=sampler)
    assert len(loader) == sampler.batches_per_epoch
    for (pids,) in loader:
        assert len(pids) == 8 and len(set(pids.tolist())) == 4
    with pytest.raises(ValueError, match="p=12"):
        PKSampler(PIDS, 12, 2)
    with pytest.raises(ValueError, match="rank"):
        PKSampler(PIDS, 2, 2, rank=2, world_size=2)


def test_transforms_shapes_and_normalisation() -> None:
    img = Image.fromarray(np.tile(np.array([124, 116, 104], dtype=np.uint8), (40, 20, 1)))  # ImageNet mean
    for recipe in ("amfl", "mmps"):
        for train in (True, False):
            out = build_transforms(recipe, (32, 16), train)(img)
            assert out.shape == (3, 32, 16) and out.dtype == torch.float32
    test = build_transforms("amfl", (32, 16), train=False)(img)
    assert test.abs().max() < 0.01  # the mean colour normalises to ~0
    names = [type(t).__name__ for t in build_transforms("amfl", (256, 128), True).transforms]
    assert names == ["Resize", "RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    assert build_transforms("amfl", (256, 128), True).transforms[0].size == (288, 144)
    names = [type(t).__name__ for t in build_transforms("mmps", (384, 128), True).transforms]
    assert names == ["Resize", "RandomHorizontalFlip", "ToTensor", "Normalize", "RandomErasing"]
    assert build_transforms("mmps", (384, 128), True).transforms[-1].p == 0.5
    with pytest.raises(ValueError, match="recipe"):
        build_transforms("pcb", (32, 16), True)
