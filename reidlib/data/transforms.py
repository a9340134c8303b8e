"""Image transforms of both recipes (sizes are parameters; the cpu profile shrinks them).

* ``amfl`` train (amfl §IV-A 3): resize to ``size × 1.125`` (288×144 for 256×128), random crop to
  ``size``, horizontal flip (p=0.5), ImageNet normalisation.
* ``mmps`` train (mmps §4.2): resize to ``size`` (384×128), horizontal flip, ImageNet normalisation,
  random erasing (Zhong et al., "Random Erasing Data Augmentation", arXiv:1708.04896) with p=0.5,
  area 2–40 %, aspect 0.3–3.3 (the paper's values); our choice: erased pixels are set to 0 after
  normalisation, i.e. the ImageNet mean colour (Zhong et al.'s re-ID code fills with a mean colour).
  mmps also says "resize training images to 384×128 for random crops and then the cropped person
  images are resized to 384×128 again". The natural reading is a random crop of the resized image
  followed by a resize back to 384×128, but the paper gives no crop size or scale range, so any crop
  would be our invention; we choose no crop (the sentence's crop is taken at the full size, where it
  is the identity), and random erasing + flip are mmps's only augmentations here. Stated in README's
  list of choices (issue 14).
* test (both): resize to ``size``, ImageNet normalisation.
"""

from __future__ import annotations

from collections.abc import Callable

from torchvision import transforms as T

__all__ = ["build_transforms", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_transforms(recipe: str, size: tuple[int, int], train: bool) -> Callable:
    """Transform for a PIL RGB image → normalised C×H×W float tensor. ``size`` = (height, width)."""
    if recipe not in ("amfl", "mmps"):
        raise ValueError(f"build_transforms: recipe must be 'amfl' or 'mmps', got {recipe!r}")
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"build_transforms: size must be positive (height, width), got {size!r}")
    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if not train:
        return T.Compose([T.Resize((h, w)), *norm])
    if recipe == "amfl":
        big = (int(round(h * 1.125)), int(round(w * 1.125)))
        return T.Compose([T.Resize(big), T.RandomCrop((h, w)), T.RandomHorizontalFlip(0.5), *norm])
    return T.Compose([T.Resize((h, w)), T.RandomHorizontalFlip(0.5), *norm,
                      T.RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 3.3), value=0)])
