"""The README's results picture: for each video of a run_ike.py dataset run, one frame as IKE sees it.

Columns: the frame with its ground truth outlined (green), the optical flow (colour = direction),
the first graph pass's soft segmentation, and the final mask (red).

    python tools/readme_figure.py --dataset_root DAVIS --run RUN        # writes RUN/readme_figure.jpg
    python tools/readme_figure.py --dataset_root DAVIS --run RUN --out images/dev_results.jpg  # the README's
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evaluation.report import TRUTH_COLOUR, label_tile, read_mask  # noqa: E402
from ike_utils.cli import run_cli  # noqa: E402
from ike_utils.errors import InputError  # noqa: E402
from ike_utils.flow_io import read_flo  # noqa: E402
from ike_utils.frames import list_frames, read_frame_bgr  # noqa: E402
from ike_utils.images import draw_outline, overlay_mask, write_image  # noqa: E402
from optical_flow.visualize import flow_to_color  # noqa: E402
from evaluation.datasets.davis2016 import ANNOTATIONS_SUBDIR, FRAMES_SUBDIR  # noqa: E402
from pipeline.layout import FINAL_MASKS, stage_masks  # noqa: E402


def video_row(frames_dir, annotation_dir, run_dir, index, tile_width):
    """The four tiles of frame `index` of one video, side by side (BGR)."""
    frame = read_frame_bgr(list_frames(frames_dir)[index])
    height, width = frame.shape[:2]
    name = '%05d' % index
    outlined = draw_outline(frame.copy(), read_mask(annotation_dir / f'{name}.png', height, width) > 0,
                            TRUTH_COLOUR, 3)
    flow = cv2.resize(flow_to_color(read_flo(run_dir / 'flow' / 'fwd_of' / f'{name}_{index + 1:05d}.flo')),
                      (width, height))
    graph_map = read_mask(stage_masks(run_dir, 'graph', 1) / f'{name}.png', height, width)
    final = overlay_mask(frame, read_mask(stage_masks(run_dir, 'final') / f'{name}.png', height, width))
    tiles = [outlined, flow, cv2.cvtColor((graph_map * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), final]
    labels = [f'{frames_dir.name} {index}, truth', 'optical flow', 'graph, cycle 1', 'IKE final mask']
    tile_height = round(height * tile_width / width)
    row = []
    for tile, text in zip(tiles, labels):
        tile = cv2.resize(tile, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        label_tile(tile, text)
        row.append(tile)
    return np.concatenate(row, axis=1)


def make_figure(dataset_root: Path, run: Path, out, tile_width: int) -> None:
    out = Path(out) if out else run / 'readme_figure.jpg'
    rows = []
    for video_run in sorted(p for p in run.iterdir() if (p / FINAL_MASKS).is_dir()):
        frames_dir = dataset_root / FRAMES_SUBDIR / video_run.name
        annotation_dir = dataset_root / ANNOTATIONS_SUBDIR / video_run.name
        middle = len(list_frames(frames_dir)) // 2
        rows.append(video_row(frames_dir, annotation_dir, video_run, middle, tile_width))
    if not rows:
        raise InputError(f'no finished video under {run}; run run_ike.py --dataset_root first')
    write_image(out, np.concatenate(rows, axis=0))
    print(f'wrote {out}')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset_root', type=Path, required=True, help='DAVIS layout: JPEGImages/480p, Annotations/480p')
    parser.add_argument('--run', type=Path, required=True, help='the --out_path of run_ike.py --dataset_root')
    parser.add_argument('--out', type=Path,
                        help='the picture to write (default: RUN/readme_figure.jpg; the README\'s is images/dev_results.jpg)')
    parser.add_argument('--tile_width', type=int, default=280, help='width of each tile in pixels (default: 280, '
                        'as the README\'s picture)')
    args = parser.parse_args()
    run_cli(make_figure, args.dataset_root, args.run, args.out, args.tile_width)


if __name__ == '__main__':
    main()
