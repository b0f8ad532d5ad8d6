"""A small synthetic video with a known answer: a textured object moving over a textured background
that moves differently. Used by the demo and the tests; needs no download."""
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ike_utils.flow_io import flow_file_name, write_flo


@dataclass
class SyntheticClip:
    frames: np.ndarray  # n x H x W x 3 uint8, BGR
    masks: np.ndarray  # n x H x W bool, the object
    fwd_flows: np.ndarray  # (n-1) x H x W x 2, frame t -> t+1 (exact, per layer)
    bwd_flows: np.ndarray  # (n-1) x H x W x 2, frame t+1 -> t


def _texture(rng, height, width, tint):
    """Smooth coloured noise at a few scales, tinted."""
    image = np.zeros((height, width, 3), np.float32)
    for scale, weight in ((4, 0.5), (12, 0.3), (32, 0.2)):
        noise = rng.random((height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        image += weight * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image * np.asarray(tint, np.float32) * 255, 0, 255)


def _shifted(canvas, dx, dy, height, width):
    """The height x width window of `canvas` moved by (dx, dy), sub-pixel, bilinear."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(canvas, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def make_clip(n_frames=16, height=96, width=160, seed=0,
              object_velocity=(2.3, 0.9), background_velocity=(-0.7, 0.35)) -> SyntheticClip:
    """Render the clip; the object is an ellipse crossing the frame, velocities are in pixels/frame."""
    rng = np.random.default_rng(seed)
    margin = int(max(abs(v) for v in background_velocity) * n_frames) + 8
    background = _texture(rng, height + 2 * margin, width + 2 * margin, (0.55, 0.75, 0.6))
    radius_x, radius_y = 0.17 * width, 0.26 * height
    object_texture = _texture(rng, height, width, (0.5, 0.8, 1.1))
    start = np.array([0.5 * width, 0.5 * height]) - 0.5 * np.array(object_velocity) * (n_frames - 1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    masks = np.empty((n_frames, height, width), bool)
    for t in range(n_frames):
        bx, by = np.array(background_velocity) * t
        back = _shifted(background, bx - margin, by - margin, height, width)
        cx, cy = start + np.array(object_velocity) * t
        # the object's texture travels with it: texture pixel (u, v) sits at (u + cx, v + cy) - centre0
        obj = _shifted(object_texture, cx - width / 2, cy - height / 2, height, width)
        inside = ((xx - cx) / radius_x) ** 2 + ((yy - cy) / radius_y) ** 2 <= 1
        frames[t] = np.where(inside[..., None], obj, back).astype(np.uint8)
        masks[t] = inside
    fwd = np.empty((n_frames - 1, height, width, 2), np.float32)
    bwd = np.empty_like(fwd)
    for t in range(n_frames - 1):
        fwd[t] = np.where(masks[t][..., None], object_velocity, background_velocity)
        bwd[t] = -np.where(masks[t + 1][..., None], object_velocity, background_velocity)
    return SyntheticClip(frames, masks, fwd, bwd)


def write_clip(clip: SyntheticClip, folder, with_flows=True):
    """Write frames/%05d.jpg, masks/%05d.png (0/255) and, if asked, the exact flows as
    flow/fwd_of and flow/bwd_of. Returns the folder."""
    folder = Path(folder)
    for sub in ('frames', 'masks'):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for t, (frame, mask) in enumerate(zip(clip.frames, clip.masks)):
        cv2.imwrite(str(folder / 'frames' / ('%05d.jpg' % t)), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(folder / 'masks' / ('%05d.png' % t)), mask.astype(np.uint8) * 255)
    if with_flows:
        for t in range(len(clip.fwd_flows)):
            write_flo(folder / 'flow' / 'fwd_of' / flow_file_name(t), clip.fwd_flows[t])
            write_flo(folder / 'flow' / 'bwd_of' / flow_file_name(t), clip.bwd_flows[t])
    return folder
