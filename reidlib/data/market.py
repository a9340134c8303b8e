"""Market-1501 and DukeMTMC-reID readers (torchreid layout and naming).

Layout: ``Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}[,gt_bbox]`` found
under ``root``, under ``root/market1501/`` or given directly (``DukeMTMC-reID/`` likewise, under
``root/dukemtmc-reid/`` or ``root/dukemtmcreid/``). Junk (pid ``-1``) is dropped everywhere,
distractors (pid ``0``) stay in the gallery, train pids are relabelled.

``gt_bbox/`` (Market's hand-drawn boxes) becomes ``multi_query``: the images of the query
identities, which multi-query evaluation pools per (pid, camera) with the query (mmps Table 2,
"Multiple Query"). Images of identities that are not queried are left out.
"""

from __future__ import annotations

from pathlib import Path

from reidlib.data.base import ReidDataset, find_data_dir, parse_market_dir, relabel

__all__ = ["read_market_layout", "market1501", "dukemtmcreid"]


def read_market_layout(data_dir: Path, name: str) -> ReidDataset:
    """Read a folder holding ``bounding_box_train/ query/ bounding_box_test/ [gt_bbox/]``."""
    train = relabel(parse_market_dir(data_dir / "bounding_box_train"))
    query = parse_market_dir(data_dir / "query")
    gallery = parse_market_dir(data_dir / "bounding_box_test")
    multi_query = None
    if (data_dir / "gt_bbox").is_dir():
        query_pids = {pid for _, pid, _ in query}
        multi_query = [it for it in parse_market_dir(data_dir / "gt_bbox") if it[1] in query_pids]
    return ReidDataset(name, data_dir, train, query, gallery, multi_query).check()


def market1501(root: Path) -> ReidDataset:
    """Market-1501 (Zheng et al. 2015): 751 train / 750 test identities, 6 cameras."""
    data_dir = find_data_dir(root, ["Market-1501-v15.09.15", "market1501/Market-1501-v15.09.15",
                                    "market1501"], "query", "Market-1501")
    return read_market_layout(data_dir, "market1501")


def dukemtmcreid(root: Path) -> ReidDataset:
    """DukeMTMC-reID (Zheng et al. 2017): 702 / 702 identities, 8 cameras, Market naming."""
    data_dir = find_data_dir(root, ["DukeMTMC-reID", "dukemtmc-reid/DukeMTMC-reID",
                                    "dukemtmcreid/DukeMTMC-reID", "dukemtmc-reid", "dukemtmcreid"],
                             "query", "DukeMTMC-reID")
    return read_market_layout(data_dir, "dukemtmcreid")
