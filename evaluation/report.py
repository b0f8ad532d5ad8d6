"""The pieces of a reproduction report: markdown tables of J and F per sequence and cycle, a plot
of the scores against the cycle, and contact sheets of frames with their masks overlaid.

Inputs are plain: `scores_by_cycle` maps a cycle label (e.g. 'cycle 1') to the list of
SequenceScores of that cycle, in the order the cycles ran.
"""
import math
from pathlib import Path

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation.scores import COLUMNS, MEASURES, dataset_means
from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError
from ike_utils.frames import list_frames, read_frame_bgr
from ike_utils.images import draw_outline, overlay_mask, write_image

MISSING = '–'
TRUTH_COLOUR = (0, 255, 0)  # BGR green: the ground truth's outline


def _sequence_names(scores_by_cycle) -> list:
    """Every sequence of any cycle, in order of first appearance."""
    names = {}
    for records in scores_by_cycle.values():
        for record in records:
            names.setdefault(record.name, None)
    return list(names)


def _markdown_row(cells) -> str:
    return '| ' + ' | '.join(str(cell) for cell in cells) + ' |'


def _markdown_table(header, rows) -> list:
    return [_markdown_row(header), _markdown_row(['---'] + ['---:'] * (len(header) - 1)),
            *(_markdown_row(row) for row in rows)]


def markdown_tables(scores_by_cycle, digits: int = 3) -> str:
    """Markdown: J mean and F mean per sequence against the cycle, then per cycle a table of J
    and F (mean, recall, decay) per sequence; every table ends with the mean over sequences."""
    cycles = list(scores_by_cycle)
    names = _sequence_names(scores_by_cycle)
    lookup = {(str(cycle), r.name): r for cycle in cycles for r in scores_by_cycle[cycle]}
    means = {cycle: dataset_means(scores_by_cycle[cycle]) for cycle in cycles}

    def number(value):
        return f'{value:.{digits}f}'

    lines = []
    for measure in MEASURES:
        column = f'{measure}_mean'
        rows = [[name, *(number(lookup[str(c), name].statistics()[column]) if (str(c), name) in lookup
                         else MISSING for c in cycles)] for name in names]
        rows.append(['**mean**', *(f'**{number(means[c][column])}**' for c in cycles)])
        lines += [f'### {measure} mean per cycle', '', *_markdown_table(['sequence', *map(str, cycles)], rows), '']
    header = ['sequence', 'frames', *(column.replace('_', ' ') for column in COLUMNS)]
    for cycle in cycles:
        records = scores_by_cycle[cycle]
        rows = [[r.name, len(r.frames), *map(number, r.statistics().values())] for r in records]
        rows.append(['**mean**', sum(len(r.frames) for r in records),
                     *(f'**{number(v)}**' for v in means[cycle].values())])
        lines += [f'### {cycle}', '', *_markdown_table(header, rows), '']
    return '\n'.join(lines)


def sequence_colours(count: int) -> list:
    """`count` distinct RGBA colours: tab20 (ten hues, dark and light) up to 20, then hsv."""
    from matplotlib import colormaps
    if count <= 20:
        return [colormaps['tab20'](index) for index in range(count)]
    return [colormaps['hsv'](index / count) for index in range(count)]


def plot_scores_by_cycle(scores_by_cycle, path, measures=MEASURES, caption: str = '') -> None:
    """PNG with one panel per measure: its mean per sequence (thin lines, a distinct colour each)
    and over sequences (thick black) against the cycle; `caption` (what made the run) below."""
    cycles = list(scores_by_cycle)
    names = _sequence_names(scores_by_cycle)
    positions = np.arange(len(cycles))
    figure = Figure(figsize=(5.5 * len(measures) + 1.5, 4.2 + 0.25 * bool(caption)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(measures), squeeze=False)[0]
    colours = sequence_colours(len(names))
    for axis, measure in zip(axes, measures):
        column = f'{measure}_mean'
        values = []
        for name, colour in zip(names, colours):
            series = [next((getattr(r, column) for r in scores_by_cycle[c] if r.name == name), np.nan)
                      for c in cycles]
            values += series
            axis.plot(positions, series, marker='o', linewidth=1, markersize=3, alpha=0.8, label=name, color=colour)
        mean_series = [dataset_means(scores_by_cycle[c])[column] for c in cycles]
        values += mean_series
        axis.plot(positions, mean_series, color='black', linewidth=2.5, marker='s', label='mean')
        finite = [v for v in values if np.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        axis.set_ylim(max(0.0, low - 0.05), min(1.0, high + 0.05))
        axis.set_xticks(positions, [str(c) for c in cycles])
        axis.set_xlim(-0.3, len(cycles) - 0.7)
        axis.set_xlabel('cycle')
        axis.set_ylabel(f'{measure} mean')
        axis.set_title(f'{measure} mean per cycle')
        axis.grid(alpha=0.3)
    axes[-1].legend(loc='center left', bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    if caption:
        figure.subplots_adjust(bottom=figure.subplotpars.bottom + 0.05)
        figure.text(0.01, 0.01, caption, fontsize=7, color='dimgray', ha='left', va='bottom', wrap=True)
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format='png')


def _evenly_spaced(count: int, tiles: int) -> list:
    """Up to `tiles` indices from 0 to count - 1, evenly spread, first and last included."""
    return sorted(set(np.round(np.linspace(0, count - 1, min(tiles, count))).astype(int).tolist()))


def label_tile(tile: np.ndarray, text: str) -> None:
    """Write `text` in the top-left corner, white on a dark box (readable on light and dark tiles)."""
    scale = max(0.4, tile.shape[1] / 640)
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    margin = 4
    box = tile[:height + baseline + 2 * margin, :width + 2 * margin]
    box[:] = (box * 0.35).astype(np.uint8)  # darken, so the frame still shows through
    cv2.putText(tile, text, (margin, margin + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)


def read_mask(path, height, width) -> np.ndarray:
    """A grey PNG (mask or soft map) as float32 in [0, 1], at height x width."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise InputError(f'mask {path} is missing or unreadable; run the segmentation again')
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask.astype(np.float32) / 255


def contact_sheet(frame_files, mask_files, tiles: int = 12, columns: int = 4, tile_width: int = 320,
                  gap: int = 4, labels=None, truth_files=None, caption: str = '') -> np.ndarray:
    """A BGR grid of `tiles` evenly spaced frames with their masks overlaid (red), each tile labelled
    with its frame index (or `labels[i]`). Frame i goes with mask_files[i], and with truth_files[i]
    when given: the ground truth's outline (green; a None entry has none). `caption` goes in a
    strip below the grid."""
    if len(frame_files) != len(mask_files) or not frame_files:
        raise ValueError('contact_sheet needs as many masks as frames, and at least one')
    chosen = _evenly_spaced(len(frame_files), tiles)
    columns = min(columns, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    sheet = tile_height = None
    for position, index in enumerate(chosen):
        frame = read_frame_bgr(frame_files[index])
        height, width = frame.shape[:2]
        if sheet is None:  # the first frame sets the tile size
            tile_height = max(1, round(height * tile_width / width))
            sheet = np.full((rows * tile_height + (rows - 1) * gap,
                             columns * tile_width + (columns - 1) * gap, 3), 32, dtype=np.uint8)
        tile = overlay_mask(frame, read_mask(mask_files[index], height, width))
        if truth_files is not None and truth_files[index] is not None:
            draw_outline(tile, read_mask(truth_files[index], height, width) > 0, TRUTH_COLOUR, 2)
        tile = cv2.resize(tile, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        label_tile(tile, f'frame {index}' if labels is None else str(labels[index]))
        row, column = divmod(position, columns)
        top, left = row * (tile_height + gap), column * (tile_width + gap)
        sheet[top:top + tile_height, left:left + tile_width] = tile
    return add_caption(sheet, caption) if caption else sheet


def add_caption(image: np.ndarray, caption: str) -> np.ndarray:
    """`image` with a dark strip below holding `caption` in small white text (cut to the width)."""
    scale, margin = 0.4, 6
    (_, height), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    strip = np.full((height + baseline + 2 * margin, image.shape[1], 3), 32, dtype=np.uint8)
    cv2.putText(strip, caption, (margin, margin + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 1,
                cv2.LINE_AA)
    return np.concatenate([image, strip], axis=0)


def write_contact_sheet(frames_dir, masks_dir, path, tiles: int = 12, columns: int = 4,
                        tile_width: int = 320, annotations_dir=None, caption: str = '') -> None:
    """Contact sheet of a video: the frames of `frames_dir` (natural order) with the masks of
    `masks_dir` named like the frames (00000.jpg -> 00000.png), and the outlines of the ground
    truth of `annotations_dir` (same names) where it has them, written as an image to `path`."""
    frame_files = list_frames(frames_dir)
    mask_files = [Path(masks_dir) / f'{frame.stem}.png' for frame in frame_files]
    missing = [p.name for p in mask_files if not p.is_file()]
    if missing:
        raise InputError(f'masks folder {masks_dir} lacks {len(missing)} of {len(frame_files)} masks '
                         f'(first: {missing[0]}); run the segmentation of this video again')
    truth_files = None
    if annotations_dir is not None:
        truth_files = [p if p.is_file() else None for p in (Path(annotations_dir) / m.name for m in mask_files)]
    write_image(path, contact_sheet(frame_files, mask_files, tiles, columns, tile_width, truth_files=truth_files,
                                    caption=caption))


def write_report(report_dir, scores_by_cycle, videos=None, title: str = 'IKE reproduction report',
                 tables: str = '', provenance=()) -> Path:
    """The whole report folder: report.md (what made it, `tables`, then the DAVIS tables and plot of
    `scores_by_cycle` if given, then the sheets), scores_by_cycle.png and contact_sheets/<video>.jpg
    for each `videos` entry name -> (frames_dir, masks_dir, annotations_dir or None).
    `provenance`: lines saying what made the results (config, flow method, cycles, seed, code
    version), written into all three. Returns the path of report.md."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    caption = '; '.join(provenance)
    lines = [f'# {title}', '']
    if provenance:
        lines += ['Made with:', '', *(f'- {line}' for line in provenance), '']
    if tables:
        lines += [tables, '']
    if scores_by_cycle:
        plot_scores_by_cycle(scores_by_cycle, report_dir / 'scores_by_cycle.png', caption=caption)
        lines += ['![J and F mean per cycle](scores_by_cycle.png)', '', markdown_tables(scores_by_cycle)]
    if videos:
        lines += ['## Final masks', '', 'Red: the final masks; green: the ground truth\'s outline, where there is one.', '']
        for name, (frames_dir, masks_dir, annotations_dir) in videos.items():
            write_contact_sheet(frames_dir, masks_dir, report_dir / 'contact_sheets' / f'{name}.jpg',
                                annotations_dir=annotations_dir, caption=caption)
            lines += [f'### {name}', '', f'![{name}](contact_sheets/{name}.jpg)', '']
    path = report_dir / 'report.md'
    with atomic_file(path) as tmp:
        tmp.write_text('\n'.join(lines) + '\n')
    return path
