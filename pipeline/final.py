"""The run's final answer: binary masks at the original size, and the soft maps they come from."""
import shutil
from pathlib import Path

import numpy as np
import torch

from ike_utils.atomic import atomic_dir
from ike_utils.images import resize_map, write_image


def write_final(soft_pt_dir, soft_png_dir, final_dir, original_size, threshold: float = 0.5):
    """final_dir/masks/%05d.png: 0/255 masks (soft map resized bilinearly to the original size,
    foreground where >= threshold); final_dir/soft/%05d.png and soft_pt/%05d.pt: the soft maps."""
    soft_pt_dir, soft_png_dir = Path(soft_pt_dir), Path(soft_png_dir)
    height, width = original_size
    with atomic_dir(final_dir) as tmp:
        (tmp / 'masks').mkdir()
        for path in sorted(soft_pt_dir.glob('*.pt')):
            soft = torch.load(path, map_location='cpu', weights_only=True)[..., 0]
            mask = (resize_map(soft, height, width) >= threshold).numpy().astype(np.uint8) * 255
            write_image(tmp / 'masks' / path.with_suffix('.png').name, mask)
        shutil.copytree(soft_pt_dir, tmp / 'soft_pt')
        shutil.copytree(soft_png_dir, tmp / 'soft')
    return Path(final_dir)
