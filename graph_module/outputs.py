"""Writing iteration results: .pt maps at working size and PNGs at the original size."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ike_utils.atomic import atomic_dir
from ike_utils.images import map_to_uint8, resize_map, write_image


def iteration_dirs(out_path, iteration: int):
    out_path = Path(out_path)
    return out_path / f'iter_{iteration}', out_path / f'iter_{iteration}_images'


def save_iteration(out_path, iteration: int, maps: torch.Tensor, original_size):
    """Write maps (n x H x W) as iter_K/%05d.pt (H x W x 1 float32) and iter_K_images/%05d.png.

    Each folder appears only once complete (temporary folder, then rename)."""
    pt_dir, png_dir = iteration_dirs(out_path, iteration)
    maps = maps.detach().float().cpu()
    with atomic_dir(pt_dir) as tmp:
        for index, soft_map in enumerate(maps):
            torch.save(soft_map[:, :, None].clone(), tmp / ('%05d.pt' % index))
    height, width = original_size
    with atomic_dir(png_dir) as tmp, ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(write_image, tmp / ('%05d.png' % index),
                            map_to_uint8(resize_map(soft_map, height, width)))
                for index, soft_map in enumerate(maps)]
        for job in jobs:
            job.result()


def iteration_complete(out_path, iteration: int, n_frames: int) -> bool:
    """Whether both folders of an iteration exist with one file per frame."""
    pt_dir, png_dir = iteration_dirs(out_path, iteration)
    return (pt_dir.is_dir() and png_dir.is_dir() and len(list(pt_dir.glob('*.pt'))) == n_frames
            and len(list(png_dir.glob('*.png'))) == n_frames)
