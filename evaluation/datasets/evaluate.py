"""evaluate.py for the IoU benchmarks (SegTrack-v2, YouTube-Objects): a folder of results, one
folder per video, scored with the benchmark's protocol."""
import json
from pathlib import Path

from evaluation.datasets.base import sub_folders
from evaluation.datasets.tables import to_markdown, write_csv_table
from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError
from ike_utils.progress import progress_bar

RESULTS_LABEL = 'results'


def evaluate_results(benchmark, results_root, sequences=None, threshold: float = 0.5, naming: str = 'index',
                     quiet: bool = True) -> list:
    """IoUScores of every named video (default: every video folder of `results_root`)."""
    results_root = Path(results_root)
    if not results_root.is_dir():
        raise InputError(f'results root {results_root} does not exist; pass the folder with one folder per video')
    if not 0 < threshold <= 1:
        raise InputError(f'threshold {threshold} is not valid; use a value in (0, 1], e.g. 0.5')
    chosen = benchmark.sequences(sequences or sub_folders(results_root))
    missing = [s.name for s in chosen if not (results_root / s.name).is_dir()]
    if missing:
        raise InputError(f'results root {results_root} has no folder {missing[0]!r}; segment it first or '
                         f'leave it out of --sequences')
    return [benchmark.score(s, results_root / s.name, threshold, naming)
            for s in progress_bar(desc='evaluating', unit='video', quiet=quiet, iterable=chosen)]


def format_results(benchmark, records) -> str:
    """Per video: its group, scored frames and IoU (and CorLoc where boxes exist); then the paper's table."""
    with_class = any(r.group != r.name for r in records)
    with_boxes = any(r.box_frames for r in records)
    header = ['sequence', *(['class'] if with_class else []), 'mask frames', 'IoU',
              *(['box frames', 'CorLoc'] if with_boxes else [])]
    rows = [[r.name, *([r.group] if with_class else []), len(r.frames), r.iou,
             *([len(r.box_frames), r.corloc] if with_boxes else [])] for r in records]
    paper_header, paper_rows = benchmark.paper_table({RESULTS_LABEL: records})
    return (f'{benchmark.title}: per video\n\n{to_markdown(header, rows)}\n\n'
            f'{benchmark.title}: the paper\'s table\n\n{to_markdown(paper_header, paper_rows)}')


def write_results(benchmark, records, csv_path=None, json_path=None) -> None:
    """--csv: the paper's table; --json: every record with its per-frame scores."""
    if csv_path:
        write_csv_table(csv_path, *benchmark.paper_table({RESULTS_LABEL: records}))
    if json_path:
        with atomic_file(json_path) as tmp:
            tmp.write_text(json.dumps({'benchmark': benchmark.key, 'sequences': [r.to_dict() for r in records]},
                                      indent=1) + '\n')
