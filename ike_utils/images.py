"""Writing maps and masks as images, and overlays for looking at results."""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ike_utils.atomic import atomic_file
from ike_utils.disk import write_image_file


def resize_map(soft_map: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear (align_corners=False) resize of an H x W map to height x width, as the reference."""
    return F.interpolate(soft_map[None, None].float(), size=(height, width), mode='bilinear',
                         align_corners=False)[0, 0]


def map_to_uint8(soft_map: torch.Tensor) -> np.ndarray:
    """uint8(255 * v), truncating like numpy's cast (the reference's PNG quantisation)."""
    return (soft_map.detach().cpu().float().numpy() * 255).astype(np.uint8)


def write_image(path, image: np.ndarray) -> None:
    """Write an image file atomically; the format follows the suffix."""
    with atomic_file(path) as tmp:
        write_image_file(tmp, image)


def save_soft_map_png(path, soft_map: torch.Tensor, height: int, width: int) -> None:
    """A soft map in [0, 1] at working size, written as a grey PNG at height x width."""
    write_image(path, map_to_uint8(resize_map(soft_map, height, width)))


def overlay_mask(frame_bgr: np.ndarray, mask: np.ndarray, color=(0, 0, 255), alpha=0.5) -> np.ndarray:
    """The frame with `mask` (bool or 0..1, same size) tinted in `color` and its outline drawn."""
    mask = mask.astype(np.float32)
    if mask.max() > 1:
        mask = mask / 255
    tint = np.empty_like(frame_bgr)
    tint[:] = color
    weight = (alpha * mask)[..., None]
    out = (frame_bgr * (1 - weight) + tint * weight).astype(np.uint8)
    return draw_outline(out, mask >= 0.5, color, 2)


def draw_outline(image_bgr: np.ndarray, mask: np.ndarray, color=(0, 255, 0), thickness: int = 2) -> np.ndarray:
    """`image_bgr` (changed in place and returned) with the outer outline of a bool mask drawn on it."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return cv2.drawContours(image_bgr, contours, -1, color, thickness)
