"""Listing and reading video frames (a folder of images in natural order: 1, 2, ..., 10)."""
import re
from pathlib import Path

import cv2
import numpy as np
import torch

from ike_utils.errors import InputError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def natural_key(name: str) -> tuple:
    """Sort key of a file name in natural order: its digit runs compare as numbers (frame2 < frame10).
    The suffix is left out, so 1.jpg and 1.png (or 1.jpg and 01.jpg) have the same key."""
    stem = name.rsplit('.', 1)[0] if '.' in name else name
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r'(\d+)', stem) if part)


def list_frames(folder, min_count: int = 1):
    """The image files of `folder` in natural order (1, 2, ..., 10; hidden files left out); an
    InputError if there are fewer than `min_count`, or if two names have no order (1.jpg, 01.jpg)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f'frames folder {folder} does not exist; pass a folder of frames (00000.jpg, ...)')
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                    and not p.name.startswith('.')), key=lambda p: (natural_key(p.name), p.name))
    for first, second in zip(files, files[1:]):
        if natural_key(first.name) == natural_key(second.name):
            raise InputError(f'frames folder {folder} holds {first.name} and {second.name}, which have no order '
                             f'(the same frame number); keep one of them')
    if not files:
        raise InputError(f'frames folder {folder} holds no images (.jpg or .png); point it at the video frames')
    if len(files) < min_count:
        raise InputError(f'frames folder {folder} holds {len(files)} image(s); at least {min_count} are needed')
    return files


JPEG_END = b'\xff\xd9'
_JPEG_TAIL = 1024  # the end marker may be followed by a little padding


def check_jpeg_end(path, data: bytes = None):
    """An InputError for a JPEG without its end marker (truncated: OpenCV would only print a warning
    and fill the missing part). Reads only the end of the file unless `data` is given."""
    if Path(path).suffix.lower() not in ('.jpg', '.jpeg'):
        return
    if data is None:
        with open(path, 'rb') as handle:
            handle.seek(max(0, Path(path).stat().st_size - _JPEG_TAIL))
            data = handle.read()
    if JPEG_END not in data[-_JPEG_TAIL:]:
        raise InputError(f'frame {path} is a truncated JPEG (no end marker); replace it with a complete file')


def read_frame_bgr(path) -> np.ndarray:
    """One frame as an H x W x 3 uint8 BGR array (as OpenCV reads it); truncated JPEGs are refused."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f'frame {path} cannot be read ({error.strerror}); check the file') from None
    check_jpeg_end(path, data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
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
