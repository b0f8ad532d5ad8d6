"""The run's final answer: binary masks at the original size, and the soft maps they come from,
named after the input frames (frame 12.jpg -> masks/12.png, soft/12.png, soft_pt/12.pt)."""
import shutil
from pathlib import Path

import numpy as np
import torch

from ike_utils.atomic import atomic_dir
from ike_utils.images import resize_map, write_image
from ike_utils.stage import Stage, run_stage

FINAL_FOLDERS = ('masks', 'soft', 'soft_pt')


def final_stage(frames, soft_pt_dir, soft_png_dir, final_dir, threshold: float) -> Stage:
    """The final stage's contract: the last graph pass's soft maps in, masks and soft maps out."""
    return Stage('final', Path(final_dir), inputs={'frames': list(frames), 'soft': [Path(soft_pt_dir), Path(soft_png_dir)]},
                 settings={'threshold': threshold}, outputs=FINAL_FOLDERS, content_inputs=('frames',))


def write_final(frames, soft_pt_dir, soft_png_dir, final_dir, original_size, threshold: float = 0.5,
                before_redo=None) -> Path:
    """final_dir/masks/<frame>.png: 0/255 masks (the soft map of frame i, `%05d.pt` at working size,
    resized bilinearly to the original size, foreground where >= threshold); final_dir/soft/<frame>.png
    and soft_pt/<frame>.pt: the soft maps. Skipped when current (ike_utils.stage)."""
    soft_pt_dir, soft_png_dir, final_dir = Path(soft_pt_dir), Path(soft_png_dir), Path(final_dir)
    height, width = original_size
    stems = [Path(frame).stem for frame in frames]

    def work(resume):
        with atomic_dir(final_dir / 'masks') as tmp:
            for index, stem in enumerate(stems):
                soft = torch.load(soft_pt_dir / ('%05d.pt' % index), map_location='cpu', weights_only=True)[..., 0]
                mask = (resize_map(soft, height, width) >= threshold).numpy().astype(np.uint8) * 255
                write_image(tmp / f'{stem}.png', mask)
        for source, name, suffix in ((soft_pt_dir, 'soft_pt', '.pt'), (soft_png_dir, 'soft', '.png')):
            with atomic_dir(final_dir / name) as tmp:
                for index, stem in enumerate(stems):
                    shutil.copy2(source / ('%05d%s' % (index, suffix)), tmp / f'{stem}{suffix}')

    run_stage(final_stage(frames, soft_pt_dir, soft_png_dir, final_dir, threshold), work, before_redo=before_redo)
    return final_dir
