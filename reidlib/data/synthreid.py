"""SynthReID: the built-in, seeded, versioned synthetic re-ID dataset, written in Market-1501's layout.

``synthreid(root, domain, seed, scale)`` renders (on first use) into
``<root>/synthreid[-<domain>]/v<GENERATOR_VERSION>-s<seed>[-x<scale>]/Market-1501-v15.09.15/``
(``bounding_box_train/ query/ bounding_box_test/ gt_bbox/``) and reads it with the Market reader.
Generation goes to a temporary folder that is renamed when complete, so a killed run leaves
nothing half-written. The same (version, domain, seed, scale) gives byte-identical files.
Bump ``GENERATOR_VERSION`` whenever the output changes.

Layout (per domain, ``scale`` = 1): identities come in groups of 3 that share their global look
and differ only in details (see :mod:`reidlib.data.synthrender`); whole groups go to train or
test, so the test set has hard pairs. A train identity is seen by 2–5 cameras with 1–4 images
each; a test identity by ≥ 2 cameras with ≥ 2 images each, one per camera is the query (as
Market's protocol), the rest is gallery. Detector boxes are shifted/scaled, some crops are
partial or occluded. Market-like domains add pid-0 distractors (partial bodies, background) to
the gallery and -1 junk; ``gt_bbox/`` holds well-aligned extra images of each query identity in
each query camera (for multi-query evaluation).

Domains (disjoint identities: each domain draws from its own random stream):
``market`` 6 cameras; ``duke`` 8 cameras, darker palette, more occlusion, tighter boxes and
gallery-only identities in place of distractors; ``cuhk03`` 2 cameras, every identity in both,
≤ 5 images per camera, strong misalignment (the "detected" look); ``msmt17`` 15 cameras,
indoor and outdoor backgrounds, wider lighting range, more identities.

Measured (v1, seed 0, scale 1, one process on the shared 2-core machine, load ≈ 6):

=========  ====  ======================  =====  =======  ==========  ===========
domain     cams  train imgs / ids        query  gallery  gt_bbox     generation
=========  ====  ======================  =====  =======  ==========  ===========
market     6     2681 / 300              1034   2287*    2068        19 s
duke       8     2703 / 300              1043   2133**   –           12 s
cuhk03     2     2095 / 300              600    1481     –           10 s
msmt17     15    2948 / 399              1407   2106     –           15 s
=========  ====  ======================  =====  =======  ==========  ===========

(* incl. 250 pid-0 distractors, plus 120 junk files; ** incl. 60 gallery-only identities.)
Learnability check (market, 64×32, a 4-block CNN from scratch, cross-entropy, 5 epochs): rank-1
0.59 / mAP 0.46 against chance ≈ 0.003; 46 % of its rank-1 errors are a look-alike group-mate
(2 of 300 identities), and a colour histogram of the central body strip gets rank-1 0.06 with
61 % of its errors on group-mates: global colour is not enough, the details matter.
Byte-identity holds for one environment (numpy, Pillow/libjpeg versions).
"""

from __future__ import annotations

import argparse
import colorsys
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from reidlib.data.base import ReidDataset
from reidlib.data.market import read_market_layout
from reidlib.data.synthrender import (
    DETAIL_COLOURS,
    SCENE_HW,
    Box,
    Camera,
    Details,
    Identity,
    Look,
    encode_jpeg,
    render,
)

__all__ = ["GENERATOR_VERSION", "DOMAINS", "Domain", "synthreid", "generate", "rerender", "dataset_dir",
           "save_sample_grid"]

GENERATOR_VERSION = 1
MARKET_DIR = "Market-1501-v15.09.15"


@dataclass(frozen=True)
class Domain:
    """Sizes and styles of one SynthReID domain (identity and image counts at ``scale`` = 1)."""

    name: str
    code: int
    cams: int
    train_ids: int
    test_ids: int
    cams_per_id: tuple[int, int]  # inclusive range
    imgs_per_cam: tuple[int, int]  # inclusive range
    sat: tuple[float, float]  # clothing palette: saturation and value ranges
    val: tuple[float, float]
    cast: float  # per-camera RGB gain spread
    misalign: float  # std of the box shift, fraction of the box
    scale_sigma: float  # std of log box scale
    p_partial: float
    p_occlude: float
    distractors: int  # pid-0 gallery images
    junk: int  # pid -1 images
    gallery_only_ids: int  # identities seen once, in the gallery only (Duke's distractors)
    mq_per_query: int  # gt_bbox images per (query identity, camera)
    indoor: float  # fraction of cameras indoors
    group_size: int = 3


DOMAINS: dict[str, Domain] = {
    "market": Domain("market", 1, 6, 300, 300, (2, 5), (1, 4), (0.3, 0.9), (0.35, 0.95), 0.18,
                     0.06, 0.08, 0.08, 0.08, 250, 120, 0, 2, 0.0),
    "duke": Domain("duke", 2, 8, 300, 300, (2, 5), (1, 4), (0.1, 0.55), (0.12, 0.7), 0.12,
                   0.03, 0.05, 0.05, 0.2, 0, 0, 60, 0, 0.0),
    "cuhk03": Domain("cuhk03", 3, 2, 300, 300, (2, 2), (2, 5), (0.2, 0.8), (0.25, 0.9), 0.15,
                     0.12, 0.14, 0.1, 0.05, 0, 0, 0, 0, 1.0),
    "msmt17": Domain("msmt17", 4, 15, 400, 400, (2, 5), (1, 3), (0.15, 0.9), (0.2, 0.95), 0.22,
                     0.06, 0.08, 0.08, 0.12, 0, 0, 0, 0, 0.5),
}
SKINS = ((240, 200, 170), (220, 170, 130), (180, 130, 90), (120, 80, 55), (90, 60, 40))
HAIRS = ((20, 15, 10), (60, 40, 25), (110, 75, 40), (200, 170, 100), (150, 150, 150))


def dataset_dir(root: Path, domain: str = "market", seed: int = 0, scale: float = 1.0,
                test_scale: float | None = None) -> Path:
    """The cache folder of one SynthReID version (holds ``Market-1501-v15.09.15/``)."""
    base = "synthreid" if domain == "market" else f"synthreid-{domain}"
    test = "" if test_scale in (None, scale) else f"-t{test_scale:g}"
    return Path(root) / base / (f"v{GENERATOR_VERSION}-s{seed}" + (f"-x{scale:g}" if scale != 1 else "") + test)


def _colour(rng: np.random.Generator, dom: Domain) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*dom.sat), rng.uniform(*dom.val))
    return int(r * 255), int(g * 255), int(b * 255)


def _look(rng: np.random.Generator, dom: Domain) -> Look:
    return Look(top=_colour(rng, dom), bottom=_colour(rng, dom), hair=HAIRS[rng.integers(len(HAIRS))],
                skin=SKINS[rng.integers(len(SKINS))], inner=_colour(rng, dom),
                long_sleeves=bool(rng.random() < 0.5), jacket=bool(rng.random() < 0.35),
                bottom_kind=str(rng.choice(["trousers", "trousers", "shorts", "skirt"])),
                height=float(rng.uniform(0.9, 1.05)), width=float(rng.uniform(0.85, 1.15)))


def _details(rng: np.random.Generator) -> Details:
    n = len(DETAIL_COLOURS)
    return Details(shoes=int(rng.integers(n)), bag=str(rng.choice(["none", "backpack", "shoulder", "hand"])),
                   bag_colour=int(rng.integers(n)),
                   logo=str(rng.choice(["none", "circle", "square", "stripe", "triangle"])),
                   logo_colour=int(rng.integers(n)), glasses=bool(rng.random() < 0.4),
                   hat=str(rng.choice(["none", "none", "cap", "beanie"])), hat_colour=int(rng.integers(n)))


def _group(rng: np.random.Generator, dom: Domain, group: int, pids: list[int]) -> list[Identity]:
    """Identities sharing one look; every two differ in at least 2 of the 5 detail kinds."""
    look, members = _look(rng, dom), []
    while len(members) < len(pids):
        det = _details(rng)
        if all(sum(a != b for a, b in zip(det.signature(), m.signature())) >= 2 for m in members):
            members.append(det)
    return [Identity(pid, group, look, det) for pid, det in zip(pids, members)]


def _muted(rng: np.random.Generator, lo: int, hi: int, tint: float = 30) -> tuple[int, int, int]:
    grey = rng.uniform(lo, hi)
    return tuple(int(np.clip(grey + t, 0, 255)) for t in rng.normal(0, tint, 3))  # type: ignore[return-value]


def _background(rng: np.random.Generator, indoor: bool) -> np.ndarray:
    h, w = SCENE_HW[0], 4 * SCENE_HW[1]
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    horizon = int(rng.uniform(0.35, 0.6) * h)
    tone = rng.uniform(0.5, 1.0)
    wall = _muted(rng, 90 * tone, 220 * tone) if indoor else \
        tuple(int(v) for v in (np.array([120, 160, 210]) * rng.uniform(0.6, 1.1)))
    floor = _muted(rng, 50, 190, 20)
    d.rectangle([0, 0, w, horizon], fill=wall)
    d.rectangle([0, horizon, w, h], fill=floor)
    for _ in range(int(rng.integers(4, 10))):  # doors, windows, buildings, trees, poles
        x, bw = rng.uniform(0, w), rng.uniform(6, 60)
        y0 = rng.uniform(0, horizon * 0.8)
        col = _muted(rng, 30, 220, 45)
        if not indoor and rng.random() < 0.4:
            col = (int(rng.integers(20, 90)), int(rng.integers(90, 160)), int(rng.integers(20, 80)))
            d.ellipse([x, y0, x + bw, horizon + 5], fill=col)
        else:
            d.rectangle([x, y0, x + bw, horizon], fill=col)
    step = int(rng.integers(14, 40))
    line = tuple(max(0, v - 25) for v in floor)
    for yy in range(horizon + step // 2, h, step):
        d.line([(0, yy), (w, yy)], fill=line, width=1)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 4, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def _cameras(rng: np.random.Generator, dom: Domain) -> list[Camera]:
    cams = []
    for c in range(dom.cams):
        indoor = c < round(dom.indoor * dom.cams)
        vp = rng.dirichlet([3.0, 3.0, 1.5, 1.5])
        cams.append(Camera(gain=tuple(float(g) for g in 1 + rng.uniform(-dom.cast, dom.cast, 3)),
                           offset=float(rng.uniform(-12, 12)), blur=float(rng.uniform(0.0, 0.9)),
                           resolution=float(rng.uniform(0.5, 1.0)), noise=float(rng.uniform(1, 5)),
                           quality=int(rng.integers(75, 96)), background=_background(rng, indoor),
                           view_probs=tuple(float(v) for v in vp)))
    return cams


@dataclass(frozen=True)
class Job:
    """One image to render: where it goes and how it looks."""

    rel: str
    who: Identity | None
    cam: int
    box: Box
    occlude: bool


def _layout(dom: Domain, seed: int, scale: float, test_scale: float | None = None) -> tuple[list[Camera], list[Job], dict]:
    """Cameras and the list of images of one domain (cheap: nothing is rendered)."""
    test_scale = scale if test_scale is None else test_scale
    rng = np.random.default_rng([seed, dom.code, 0])
    cams = _cameras(rng, dom)
    g = dom.group_size
    n_train = max(2, round(dom.train_ids * scale / g)) * g
    n_test = max(2, round(dom.test_ids * test_scale / g)) * g
    n_groups = (n_train + n_test) // g
    order = rng.permutation(n_groups)  # which groups go to test, and pid order
    pids = rng.permutation(np.arange(1, n_train + n_test + 1))
    people = []
    for k in range(n_groups):
        people += _group(rng, dom, k, [int(p) for p in pids[k * g:(k + 1) * g]])
    test_groups = set(order[: n_test // g].tolist())
    frames = [0] * dom.cams
    jobs: list[Job] = []

    def add(folder: str, pid: int, who: Identity | None, cam: int, box: Box, occlude: bool = False) -> None:
        frames[cam] += 1
        name = f"{pid:04d}" if pid >= 0 else "-1"
        jobs.append(Job(f"{folder}/{name}_c{cam + 1}s1_{frames[cam]:06d}_00.jpg", who, cam, box, occlude))

    def det_box() -> Box:
        box = Box(float(rng.normal(0, dom.misalign)), float(rng.normal(0, dom.misalign)),
                  float(np.exp(rng.normal(0, dom.scale_sigma))))
        if rng.random() < dom.p_partial:
            if rng.random() < 0.7:
                return Box(box.dx, box.dy, box.scale, 0.0, float(rng.uniform(0.5, 0.75)))
            return Box(box.dx, box.dy, box.scale, float(rng.uniform(0.25, 0.5)), 1.0)
        return box

    for who in sorted(people, key=lambda p: p.pid):
        test = who.group in test_groups
        lo, hi = dom.cams_per_id
        seen = rng.choice(dom.cams, int(rng.integers(lo, min(hi, dom.cams) + 1)), replace=False)
        for cam in sorted(int(c) for c in seen):
            lo_i, hi_i = dom.imgs_per_cam
            n = int(rng.integers(max(lo_i, 2) if test else lo_i, hi_i + 1))
            for i in range(n):
                folder = ("query" if i == 0 else "bounding_box_test") if test else "bounding_box_train"
                add(folder, who.pid, who, cam, det_box(), bool(rng.random() < dom.p_occlude))
            for _ in range(dom.mq_per_query if test else 0):
                add("gt_bbox", who.pid, who, cam, Box())
    extra_pid = n_train + n_test + 1
    for k in range(round(dom.gallery_only_ids * test_scale)):
        who = _group(rng, dom, n_groups + k, [extra_pid + k])[0]
        add("bounding_box_test", who.pid, who, int(rng.integers(dom.cams)), det_box(),
            bool(rng.random() < dom.p_occlude))
    for _ in range(round(dom.distractors * test_scale)):
        stranger = _group(rng, dom, -1, [0])[0] if rng.random() < 0.7 else None
        top = float(rng.uniform(0.0, 0.5))
        add("bounding_box_test", 0, stranger, int(rng.integers(dom.cams)),
            Box(float(rng.normal(0, 0.15)), 0.0, 1.0, top, top + float(rng.uniform(0.3, 0.5))))
    for _ in range(round(dom.junk * scale)):
        stranger = _group(rng, dom, -1, [0])[0]
        add(str(rng.choice(["bounding_box_test", "bounding_box_train"])), -1, stranger,
            int(rng.integers(dom.cams)),
            Box(float(rng.choice([-1, 1]) * rng.uniform(0.6, 1.0)), float(rng.uniform(-0.3, 0.3)),
                float(rng.uniform(0.4, 0.6))))
    info = {"generator_version": GENERATOR_VERSION, "seed": seed, "scale": scale, "domain": asdict(dom),
            "train_ids": n_train, "test_ids": n_test, "images": len(jobs)}
    if test_scale != scale:
        info["test_scale"] = test_scale
    return cams, jobs, info


def _render_job(dom: Domain, seed: int, cams: list[Camera], j: int, job: Job, box: Box) -> bytes:
    """The JPEG bytes of the ``j``-th image of a layout, seen through the detector box ``box``."""
    rng = np.random.default_rng([seed, dom.code, 1, j])
    img = render(job.who, cams[job.cam], box, rng, occlude=job.occlude)
    return encode_jpeg(img, cams[job.cam].quality)


def rerender(rels: Sequence[str], box: Callable[[int, Box], Box], domain: str = "market", seed: int = 0,
             scale: float = 1.0, test_scale: float | None = None) -> list[bytes]:
    """JPEG bytes of the images ``rels`` of one SynthReID version (paths under ``Market-1501-v15.09.15/``,
    e.g. ``"query/0001_c1s1_000001_00.jpg"``) rendered again as :func:`generate` renders them, except
    that the ``i``-th is seen through the detector box ``box(i, its generated box)``: same person, view,
    pose, camera, background and noise (a box draws no random numbers in :func:`render`), only the crop
    window moves. ``box`` returning its second argument gives the generated files' bytes."""
    if domain not in DOMAINS:
        raise ValueError(f"synthreid: unknown domain {domain!r}; expected one of {sorted(DOMAINS)}")
    dom = DOMAINS[domain]
    cams, jobs, _ = _layout(dom, seed, scale, test_scale)
    index = {job.rel: j for j, job in enumerate(jobs)}
    missing = [r for r in rels if r not in index]
    if missing:
        raise ValueError(f"synthreid rerender: {len(missing)} of {len(rels)} images (e.g. {missing[0]!r}) are not "
                         f"in SynthReID v{GENERATOR_VERSION} {domain} (seed {seed}, scale {scale:g}, test_scale "
                         f"{test_scale}); expected paths like 'query/<file>.jpg' of that version")
    return [_render_job(dom, seed, cams, index[r], jobs[index[r]], box(i, jobs[index[r]].box))
            for i, r in enumerate(rels)]


def generate(root: Path, domain: str = "market", seed: int = 0, scale: float = 1.0,
             test_scale: float | None = None) -> Path:
    """Render one SynthReID version into its cache folder (no-op when it exists); returns the
    ``Market-1501-v15.09.15`` folder. ``scale`` multiplies every count; ``test_scale`` (default
    ``scale``) the test identities, distractors and gallery-only identities alone (a larger test
    split for less evaluation noise; the other draws then shift, so the training split differs too)."""
    if domain not in DOMAINS:
        raise ValueError(f"synthreid: unknown domain {domain!r}; expected one of {sorted(DOMAINS)}")
    test_scale = scale if test_scale is None else test_scale
    if not (scale > 0 and test_scale > 0):
        raise ValueError(f"synthreid: scale and test_scale must be > 0, got {scale} and {test_scale}")
    final = dataset_dir(root, domain, seed, scale, test_scale)
    if (final / MARKET_DIR).is_dir():
        return final / MARKET_DIR
    dom = DOMAINS[domain]
    cams, jobs, info = _layout(dom, seed, scale, test_scale)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        out = tmp / MARKET_DIR
        for folder in ("bounding_box_train", "query", "bounding_box_test", "gt_bbox"):
            if folder != "gt_bbox" or dom.mq_per_query:
                (out / folder).mkdir(parents=True)
        for j, job in enumerate(jobs):
            (out / job.rel).write_bytes(_render_job(dom, seed, cams, j, job, job.box))
        (tmp / "synthreid.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MARKET_DIR).is_dir():  # lost a race to another process: keep theirs
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final / MARKET_DIR


def synthreid(root: Path, domain: str = "market", seed: int = 0, scale: float = 1.0,
              test_scale: float | None = None) -> ReidDataset:
    """The SynthReID ``domain`` (generated on first use under ``root``), read as Market-1501."""
    name = "synthreid" if domain == "market" else f"synthreid-{domain}"
    return read_market_layout(generate(Path(root), domain, seed, scale, test_scale), name)


def save_sample_grid(path: str | os.PathLike[str], seed: int = 0, per_row: int = 8) -> Path:
    """The README figure: two groups of look-alike identities (one row each, images from their
    cameras) and one row per domain, rendered directly (no cache needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reidlib.utils.io import atomic_path

    rows, labels = [], []
    cams, jobs, _ = _layout(DOMAINS["market"], seed, 0.1)
    people = sorted({j.who.pid: j.who for j in jobs if j.who is not None and j.who.pid > 0}.values(),
                    key=lambda w: (w.group, w.pid))
    groups = sorted({w.group for w in people})[:2]
    for w in [p for p in people if p.group in groups]:
        mine = [j for j in jobs if j.who is w]
        rng = np.random.default_rng([seed, 99, w.pid])
        row = [render(w, cams[mine[i % len(mine)].cam], mine[i % len(mine)].box, rng)
               for i in range(per_row)]
        rows.append(row)
        labels.append(f"group {groups.index(w.group) + 1}, id {w.pid}")
    for name in DOMAINS:
        cams, jobs, _ = _layout(DOMAINS[name], seed, 0.1)
        pick = [jobs[i] for i in np.linspace(0, len(jobs) - 1, per_row).astype(int)]
        rng = np.random.default_rng([seed, 98, DOMAINS[name].code])
        rows.append([render(j.who, cams[j.cam], j.box, rng, occlude=j.occlude) for j in pick])
        labels.append(f"domain {name}")
    fig, axes = plt.subplots(len(rows), 1, figsize=(per_row * 0.9, len(rows) * 1.75))
    for ax, row, label in zip(axes, rows, labels):
        ax.imshow(np.concatenate([np.asarray(im) for im in row], axis=1))
        ax.set_axis_off()
        ax.text(-0.01, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=8)
    fig.suptitle(f"SynthReID v{GENERATOR_VERSION} (seed {seed}): look-alike groups differ in shoes, "
                 "bag, logo, glasses, hat", fontsize=9)
    fig.subplots_adjust(left=0.2, right=0.99, top=0.95, bottom=0.01, hspace=0.08)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80, format="png")
    plt.close(fig)
    small = Image.open(buf).convert("RGB").quantize(256, dither=Image.Dither.NONE)  # README-sized
    with atomic_path(path, suffix=".png") as tmp:
        small.save(tmp, format="PNG", optimize=True)
    return Path(path)


def main(argv: list[str] | None = None) -> None:
    """``python -m reidlib.data.synthreid [--grid PNG] [--generate DOMAIN ...] [--root R]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", help="write the sample-grid figure to this PNG")
    ap.add_argument("--generate", nargs="*", metavar="DOMAIN", help=f"domains among {sorted(DOMAINS)}")
    ap.add_argument("--root", default=None, help="data root (default $REIDLIB_DATA, else data/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--test-scale", type=float, default=None)
    args = ap.parse_args(argv)
    if args.grid:
        print(save_sample_grid(args.grid, seed=args.seed))
    from reidlib.data.base import resolve_root

    for name in args.generate or []:
        t0 = time.perf_counter()
        ds = synthreid(resolve_root(args.root), name, args.seed, args.scale, args.test_scale)
        print(ds.summary())
        print(f"  generated/read in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
