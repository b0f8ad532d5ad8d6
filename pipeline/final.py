"""The run's final answer: binary masks at the original size, and the soft maps they come from,
named after the input frames (frame 12.jpg -> masks/12.png, soft/12.png, soft_pt/12.pt)."""
import shutil
from pathlib import Path

import numpy as np
import torch

from ike_utils.atomic import atomic_dir
from ike_utils.disk import save_tensor
from ike_utils.images import resize_map, write_image
from ike_utils.stage import Stage, run_stage

FINAL_FOLDERS = ('masks', 'soft', 'soft_pt')


def final_stage(frames, sources, final_dir, settings: dict) -> Stage:
    """The final stage's contract: the frames and `sources` (the last graph pass's soft maps, or the
    flow of a video without motion) in, masks and soft maps out."""
    return Stage('final', Path(final_dir), inputs={'frames': list(frames), 'soft': [Path(p) for p in sources]},
                 settings=settings, outputs=FINAL_FOLDERS, content_inputs=('frames',))


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

    run_stage(final_stage(frames, (soft_pt_dir, soft_png_dir), final_dir, {'threshold': threshold}), work,
              before_redo=before_redo)
    return final_dir


def write_empty_final(frames, flow_dir, final_dir, original_size, working_size) -> Path:
    """The final answer for a video in which nothing moves: empty masks and soft maps of 0 (PNGs at
    the original size, .pt at the working size), named like write_final's."""
    stems = [Path(frame).stem for frame in frames]
    zeros_png = np.zeros(original_size, np.uint8)

    def work(resume):
        for name in ('masks', 'soft'):
            with atomic_dir(Path(final_dir) / name) as tmp:
                for stem in stems:
                    write_image(tmp / f'{stem}.png', zeros_png)
        with atomic_dir(Path(final_dir) / 'soft_pt') as tmp:
            for stem in stems:
                save_tensor(torch.zeros(*working_size, 1), tmp / f'{stem}.pt')

    run_stage(final_stage(frames, (flow_dir,), final_dir, {'no_motion': True, 'working_size': list(working_size)}),
              work)
    return Path(final_dir)
