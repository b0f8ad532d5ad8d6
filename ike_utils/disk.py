"""Failed writes explained by the state of the disk. torch.save and cv2.imwrite report a full or
read-only disk only vaguely (torch: 'unexpected pos 576 vs 534', OpenCV: False), so these writers
raise the OSError it stands for, which the commands turn into one line (ike_utils.cli)."""
import errno
import os
from pathlib import Path

import cv2
import torch

FULL_BELOW = 1 << 20  # bytes: a disk with less space left than this after a failed write is full


def disk_error(path):
    """The OSError (EROFS, ENOSPC, EACCES) that the file system of `path`'s folder explains, or None."""
    folder = Path(path).parent
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        code = errno.EROFS
    elif stats.f_bavail * stats.f_frsize < FULL_BELOW:
        code = errno.ENOSPC
    elif not os.access(folder, os.W_OK):
        code = errno.EACCES
    else:
        return None
    return OSError(code, os.strerror(code), str(path))


def save_tensor(value, path) -> None:
    """torch.save, with a failure that the disk explains raised as that OSError."""
    try:
        torch.save(value, path)
    except RuntimeError as error:
        failure = disk_error(path)
        if failure is None:
            raise
        raise failure from error


def write_image_file(path, image, params=()) -> None:
    """cv2.imwrite (the format follows the suffix), with a failure raised as an OSError: the disk's
    when it explains it."""
    if not cv2.imwrite(str(path), image, list(params)):
        raise disk_error(path) or OSError(errno.EIO, f'OpenCV could not write image {path}', str(path))
