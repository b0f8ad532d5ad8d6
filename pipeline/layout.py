"""Where a finished run keeps each stage's masks, found from the run folder alone (no config).

A video's run folder holds cycle_K/graph/iter_N_images/ (the graph's soft maps, one saved folder
per iteration), cycle_K/network/results_images/epoch_E/ (the network's) and final/masks/ (the
delivered 0/255 masks, named like the frames; the stages' PNGs are named %05d.png by frame
position). A stage's result is its last saved iteration or epoch, as the loop uses it.
"""
import re
from pathlib import Path

from ike_utils.errors import InputError

FINAL_MASKS = Path('final') / 'masks'
_STAGE = re.compile(r'^(graph|network) ?(\d+)$')


def parse_stage(text: str):
    """'final' -> ('final', None); 'graph1' or 'graph 1' -> ('graph', 1); 'network2' -> ('network', 2)."""
    if text == 'final':
        return 'final', None
    match = _STAGE.match(text.strip())
    if not match:
        raise InputError(f'stage {text!r} is not valid; use final, graph1, network1, graph2, ...')
    return match.group(1), int(match.group(2))


def _last_numbered(folder: Path, pattern: str):
    found = [(int(m.group(1)), p) for p in folder.glob('*') if p.is_dir() and (m := re.fullmatch(pattern, p.name))]
    return max(found)[1] if found else None


def stage_naming(stage: str) -> str:
    """How a stage's PNGs are named: 'frame' (like the frames) for the final masks, 'index' (%05d.png
    by frame position) for the graph and network passes."""
    return 'frame' if stage == 'final' else 'index'


def stage_masks(run_dir, stage: str, cycle=None) -> Path:
    """The PNG folder (original size) of a stage of a video's run: final/masks, or the last saved
    iteration or epoch of graph / network pass `cycle`. InputError when the run lacks it."""
    run_dir = Path(run_dir)
    if stage == 'final':
        folder = run_dir / FINAL_MASKS
    elif stage == 'graph':
        folder = _last_numbered(run_dir / f'cycle_{cycle}' / 'graph', r'iter_(\d+)_images')
    else:
        folder = _last_numbered(run_dir / f'cycle_{cycle}' / 'network' / 'results_images', r'epoch_(\d+)')
    if folder is None or not folder.is_dir():
        name = 'final' if stage == 'final' else f'{stage}{cycle}'
        raise InputError(f'run folder {run_dir} has no results of stage {name}; '
                         f'run run_ike.py to the end or choose another --stage')
    return folder


def is_video_run(folder) -> bool:
    """Whether `folder` is one video's run_ike.py output (it has flow/ or cycle_1/)."""
    folder = Path(folder)
    return (folder / 'cycle_1').is_dir() or (folder / 'flow').is_dir()


def video_runs(folder) -> list:
    """The video run folders of a run_ike.py output: [folder] for one video, or its video
    subfolders for a dataset run; [] when `folder` is no run_ike.py output."""
    folder = Path(folder)
    if is_video_run(folder):
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_video_run(p))
