"""Listing and reading video frames (a folder of images sorted by name)."""
from pathlib import Path

import cv2
import numpy as np
import torch

from ike_utils.errors import InputError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def list_frames(folder, min_count: int = 1):
    """The image files of `folder`, sorted by name; an InputError if there are fewer than `min_count`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f'frames folder {folder} does not exist; pass a folder of frames (00000.jpg, ...)')
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f'frames folder {folder} holds no images (.jpg or .png); point it at the video frames')
    if len(files) < min_count:
        raise InputError(f'frames folder {folder} holds {len(files)} image(s); at least {min_count} are needed')
    return files


def read_frame_bgr(path) -> np.ndarray:
    """One frame as an H x W x 3 uint8 BGR array (as OpenCV reads it)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f'frame {path} cannot be read as an image; replace or remove it')
    return image


def frame_size(files):
    """(height, width) of the first frame, checking that every frame has that size.

    Reads image headers only where cheap; decoding every frame once is the price of the check."""
    height, width = read_frame_bgr(files[0]).shape[:2]
    for path in files[1:]:
        h, w = read_frame_bgr(path).shape[:2]
        if (h, w) != (height, width):
            raise InputError(f'frame {path} is {w}x{h} but {files[0]} is {width}x{height}; '
                             f'all frames of a video must have the same size')
    return height, width


def load_frames(files, height: int, width: int, rgb: bool, scaled: bool = True):
    """Frames resized to width x height (bicubic, as the reference), divided by 255.

    Returns (frames, original_size): a float32 tensor n x H x W x 3 (BGR unless `rgb`) and the
    (height, width) of the originals, checked to be the same for every frame. With `scaled` false,
    the resized frames stay uint8 (a quarter of the memory; scale_frames divides them later).
    """
    frames = torch.empty(len(files), height, width, 3, dtype=torch.float32 if scaled else torch.uint8)
    original_size = None
    for index, path in enumerate(files):
        image = read_frame_bgr(path)
        if original_size is None:
            original_size = image.shape[:2]
        elif image.shape[:2] != original_size:
            raise InputError(f'frame {path} is {image.shape[1]}x{image.shape[0]} but {files[0]} is '
                             f'{original_size[1]}x{original_size[0]}; all frames must have the same size')
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
        if rgb:
            resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        frames[index] = torch.from_numpy(resized.astype(np.float64) / 255 if scaled else resized)
    return frames, original_size


def scale_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames divided by 255 into float32, the same numbers as load_frames(scaled=True)."""
    return frames.double().div_(255).float()
