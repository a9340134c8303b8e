"""SynthReID rendering: a pedestrian crop from an identity, a view, a camera and a detector box.

What the papers are about, made explicit so the ablations have something to find:

* **global appearance** (``Look``): top/bottom colour and cut, hair, skin, build — shared by all
  identities of a group, so group-mates differ only in **details** (``Details``): shoe colour,
  bag (backpack / shoulder bag / handbag, colour), chest logo (shape, colour), glasses, hat
  (amfl Fig. 1 row 2: "extremely similar persons ... tiny details like bags and shoes");
* **views** hide details: the logo and glasses are seen from the front (glasses also from the
  side), a backpack from the back and side (only its straps from the front);
* **cameras** (``Camera``): colour cast, brightness, blur, resolution, noise, JPEG quality and
  background (amfl Fig. 1 row 3: "color distortion caused by camera settings");
* **detector** boxes: random shift/scale (misalignment), partial-body crops and occluders
  (amfl Fig. 1 rows 1–2, 4: misalignment, false alarms, missing shoes).

Everything is drawn with PIL at the scene scale and cropped to the 128×64 native size; all
randomness comes from the ``numpy.random.Generator`` passed in, so a seed fixes every pixel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["Look", "Details", "Identity", "Camera", "Box", "render", "encode_jpeg", "CROP_HW",
           "VIEWS", "DETAIL_COLOURS"]

CROP_HW = (128, 64)  # native crop (height, width), as Market-1501's
SCENE_HW = (220, 110)  # the scene a crop is cut from
FEET_Y, CENTRE_X = 180, 55
VIEWS = ("front", "back", "left", "right")
# Small, saturated colours for details: distinct enough to tell apart after a camera's cast.
DETAIL_COLOURS = ((20, 20, 20), (235, 235, 235), (200, 30, 30), (30, 60, 200), (230, 200, 20),
                  (30, 160, 60), (130, 80, 30), (230, 110, 20), (150, 40, 170))
Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """Global appearance, shared by a group of identities."""

    top: Colour
    bottom: Colour
    hair: Colour
    skin: Colour
    inner: Colour  # shirt under an open jacket
    long_sleeves: bool
    jacket: bool
    bottom_kind: str  # "trousers" | "shorts" | "skirt"
    height: float  # relative body height, ~0.9..1.05
    width: float  # relative shoulder width, ~0.85..1.15


@dataclass(frozen=True)
class Details:
    """Small cues that set group-mates apart (indices into ``DETAIL_COLOURS``; -1 / "none" = absent)."""

    shoes: int
    bag: str  # "none" | "backpack" | "shoulder" | "hand"
    bag_colour: int
    logo: str  # "none" | "circle" | "square" | "stripe" | "triangle"
    logo_colour: int
    glasses: bool
    hat: str  # "none" | "cap" | "beanie"
    hat_colour: int

    def signature(self) -> tuple:
        return (self.shoes, self.bag, self.logo, self.glasses, self.hat)


@dataclass(frozen=True)
class Identity:
    pid: int
    group: int
    look: Look
    details: Details


@dataclass(frozen=True)
class Camera:
    """One camera's look: colour cast (RGB gain, offset), blur, resolution, noise, background."""

    gain: tuple[float, float, float]
    offset: float
    blur: float  # Gaussian radius at the crop scale
    resolution: float  # fraction of the native crop size the camera resolves
    noise: float  # Gaussian pixel noise (0..255 scale)
    quality: int  # JPEG quality
    background: np.ndarray  # H × (wide) × 3 uint8 panorama, sliced per image
    view_probs: tuple[float, float, float, float]  # front, back, left, right


@dataclass(frozen=True)
class Box:
    """Detector box relative to the person's tight box: centre shift (fractions of the box size),
    scale factor, the part of the body kept (``top``..``bottom`` in 0..1 of the height)."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    top: float = 0.0
    bottom: float = 1.0


def _c(colour: Colour, k: float) -> Colour:
    return tuple(int(max(0, min(255, v * k))) for v in colour)  # type: ignore[return-value]


def _draw_person(d: ImageDraw.ImageDraw, who: Identity, view: str, phase: float, u: float,
                 shade: float) -> tuple[float, float]:
    """Draw ``who`` with feet at (CENTRE_X, FEET_Y); ``u`` = pixels per body unit (body = 120 units).
    Returns the (top, bottom) y of the tight box."""
    lk, dt = who.look, who.details
    cx, fy = CENTRE_X, FEET_Y

    def y(v: float) -> float:  # body unit (0 = head top, 120 = soles) → pixel row
        return fy - (120 - v) * u

    def rect(x0: float, y0: float, x1: float, y1: float, col: Colour) -> None:
        d.rectangle([cx + x0 * u, y(y0), cx + x1 * u, y(y1)], fill=_c(col, shade))

    def ell(x0: float, y0: float, x1: float, y1: float, col: Colour) -> None:
        d.ellipse([cx + x0 * u, y(y0), cx + x1 * u, y(y1)], fill=_c(col, shade))

    side = view in ("left", "right")
    sgn = -1.0 if view == "left" else 1.0  # facing direction in x for side views
    sw = 13 * lk.width * (0.62 if side else 1.0)  # half shoulder width
    stride = 7 * phase
    bag_col = DETAIL_COLOURS[dt.bag_colour]
    # behind the body: backpack seen from the side, handbag on the far side
    if dt.bag == "backpack" and side:
        bx = -sw - 8 if sgn > 0 else sw - 1
        rect(bx, 24, bx + 9, 52, bag_col)
    # legs and shoes
    legs = [(-6 + stride if side else -9, 1), (-6 - stride if side else 1, 1)]
    for i, (x0, _) in enumerate(legs):
        top_col = lk.bottom
        rect(x0, 60, x0 + 8, 113, _c(lk.skin, 1.0) if lk.bottom_kind == "shorts" else top_col)
        if lk.bottom_kind == "shorts":
            rect(x0, 60, x0 + 8, 82, top_col)
        if lk.bottom_kind == "skirt" and i == 0:
            d.polygon([(cx - sw * u, y(58)), (cx + sw * u, y(58)), (cx + (sw + 5) * u, y(88)),
                       (cx - (sw + 5) * u, y(88))], fill=_c(lk.bottom, shade))
        shoe = DETAIL_COLOURS[dt.shoes]
        toe = 3 * sgn if side else 0
        rect(x0 - 1 + min(toe, 0), 112, x0 + 9 + max(toe, 0), 120, shoe)
    # arms (behind the torso in side views: one visible arm drawn after the torso)
    arm_col = lk.top if lk.long_sleeves else lk.skin
    if not side:
        for ax in (-sw - 5, sw):
            rect(ax, 21, ax + 5, 34, lk.top)
            rect(ax, 34, ax + 5, 57, arm_col)
            rect(ax, 57, ax + 5, 62, lk.skin)
    # torso
    rect(-sw, 19, sw, 61, lk.top)
    if lk.jacket and view == "front":
        rect(-2.5, 20, 2.5, 60, lk.inner)
    if view == "front" and dt.logo != "none":
        lc = DETAIL_COLOURS[dt.logo_colour]
        lx, ly = (3.5 if lk.jacket else -3.5), 28
        if dt.logo == "circle":
            ell(lx - 3.5, ly, lx + 3.5, ly + 7, lc)
        elif dt.logo == "square":
            rect(lx - 3.5, ly, lx + 3.5, ly + 7, lc)
        elif dt.logo == "stripe":
            rect(-sw, ly + 2, sw, ly + 6, lc)
        else:
            d.polygon([(cx + (lx - 4) * u, y(ly + 7)), (cx + (lx + 4) * u, y(ly + 7)),
                       (cx + lx * u, y(ly))], fill=_c(lc, shade))
    if dt.bag == "backpack":
        if view == "back":
            rect(-sw + 2.5, 23, sw - 2.5, 52, bag_col)
        elif view == "front":
            for sx in (-sw + 2, sw - 4):
                rect(sx, 19, sx + 2, 40, bag_col)
    if side:
        swing = -stride * 0.8
        rect(-2.5 + swing, 21, 2.5 + swing, 34, lk.top)
        rect(-2.5 + swing * 1.4, 34, 2.5 + swing * 1.4, 57, arm_col)
        rect(-2.5 + swing * 1.6, 57, 2.5 + swing * 1.6, 62, lk.skin)
    if dt.bag == "shoulder" and view != "back":
        bx = (sw - 2) if view != "left" else (-sw - 8)
        d.line([(cx - sw * u, y(20)), (cx + (bx + 5) * u, y(52))], fill=_c(bag_col, shade),
               width=max(1, int(1.5 * u)))
        rect(bx, 50, bx + 10, 62, bag_col)
    elif dt.bag == "shoulder":
        rect(-sw - 8, 50, -sw + 2, 62, bag_col)
    if dt.bag == "hand":
        hx = (sw + 1) if not side else (-3 - stride * 1.3)
        rect(hx, 60, hx + 8, 71, bag_col)
    # head, hair, glasses, hat
    rect(-2.5, 15, 2.5, 20, lk.skin)
    hw = 6.5 if not side else 6
    ell(-hw, 0, hw, 16, lk.skin)
    if view == "back":
        ell(-hw, 0, hw, 14, lk.hair)
    elif side:
        ell(-hw, 0, hw, 6, lk.hair)
        rect(-hw if sgn > 0 else 1, 2, -1 if sgn > 0 else hw, 10, lk.hair)
    else:
        ell(-hw, 0, hw, 5.5, lk.hair)
    if dt.glasses and view != "back":
        dark = (15, 15, 15)
        if side:
            rect(sgn * 3 - 1.5, 6.5, sgn * 3 + 2, 8.5, dark)
        else:
            rect(-5, 6.5, -1, 9, dark)
            rect(1, 6.5, 5, 9, dark)
            rect(-1, 7, 1, 8, dark)
    hat_col = DETAIL_COLOURS[dt.hat_colour]
    if dt.hat == "cap":
        ell(-hw - 0.5, -1.5, hw + 0.5, 6, hat_col)
        if side:
            rect(0 if sgn > 0 else -hw - 5, 3.5, hw + 5 if sgn > 0 else 0, 5.5, hat_col)
        elif view == "front":
            rect(-hw - 1.5, 4, hw + 1.5, 6, hat_col)
    elif dt.hat == "beanie":
        ell(-hw - 0.5, -4, hw + 0.5, 7, hat_col)
    return y(-4 if dt.hat == "beanie" else -1.5), y(120)


def _occlude(d: ImageDraw.ImageDraw, rng: np.random.Generator, top: float, bottom: float) -> None:
    """An occluder in front of the person: a pole, a low object (car, bench) or a passer-by."""
    h = bottom - top
    kind = rng.integers(3)
    col = tuple(int(v) for v in rng.integers(30, 200, 3))
    if kind == 0:
        x = CENTRE_X + rng.uniform(-0.3, 0.3) * h * 0.5
        d.rectangle([x - h * 0.04, 0, x + h * 0.04, SCENE_HW[0]], fill=col)
    elif kind == 1:
        d.rectangle([0, bottom - h * rng.uniform(0.2, 0.45), SCENE_HW[1], SCENE_HW[0]], fill=col)
    else:
        x = CENTRE_X + rng.choice([-1, 1]) * h * rng.uniform(0.18, 0.3)
        d.rectangle([x - h * 0.14, top + h * 0.15, x + h * 0.14, bottom], fill=col)
        d.ellipse([x - h * 0.06, top, x + h * 0.06, top + h * 0.14], fill=(180, 140, 110))


def render(who: Identity | None, cam: Camera, box: Box, rng: np.random.Generator, view: str | None = None,
           occlude: bool = False) -> Image.Image:
    """One 128×64 crop of ``who`` (``None``: background only) as seen by ``cam`` through ``box``."""
    bg_w = cam.background.shape[1]
    x0 = int(rng.integers(0, bg_w - SCENE_HW[1]))
    img = Image.fromarray(np.ascontiguousarray(cam.background[:, x0:x0 + SCENE_HW[1]]))
    d = ImageDraw.Draw(img)
    u = 1.2 * (who.look.height if who is not None else 1.0) * rng.uniform(0.96, 1.04)
    top, bottom = FEET_Y - 121.5 * u, float(FEET_Y)
    if who is not None:
        view = view or VIEWS[int(rng.choice(4, p=cam.view_probs))]
        shade = rng.uniform(0.85, 1.1)
        top, bottom = _draw_person(d, who, view, float(rng.uniform(-1, 1)), u, shade)
    if occlude:
        _occlude(d, rng, top, bottom)
    # the detector box: a part of the tight box, shifted and scaled, at the 2:1 crop aspect
    h = (bottom - top) * (box.bottom - box.top) * box.scale
    cy = top + (bottom - top) * (box.top + box.bottom) / 2 + box.dy * h
    cx = CENTRE_X + box.dx * h / 2
    h = min(h * 1.05, SCENE_HW[0] - 2.0)
    cy = min(max(cy, h / 2), SCENE_HW[0] - h / 2)
    cx = min(max(cx, h / 4), SCENE_HW[1] - h / 4)
    crop = img.crop((round(cx - h / 4), round(cy - h / 2), round(cx + h / 4), round(cy + h / 2)))
    ch, cw = CROP_HW
    low = (max(8, round(cw * cam.resolution)), max(16, round(ch * cam.resolution)))
    crop = crop.resize(low, Image.BILINEAR).resize((cw, ch), Image.BILINEAR)
    if cam.blur > 0.2:
        crop = crop.filter(ImageFilter.GaussianBlur(cam.blur))
    arr = np.asarray(crop, dtype=np.float32)
    light = rng.uniform(0.85, 1.15)
    arr = arr * (np.asarray(cam.gain, np.float32) * light) + cam.offset
    arr += rng.normal(0.0, cam.noise, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """Deterministic JPEG bytes (fixed quality, no optimisation pass)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()
