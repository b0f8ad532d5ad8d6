"""IKE on a DAVIS-layout dataset: many videos, optionally split over cluster tasks or processes."""
import multiprocessing
import os
import traceback
from pathlib import Path

from tqdm import tqdm

from evaluation.report import write_report
from ike_utils.errors import InputError

FRAMES_SUBDIR = Path('JPEGImages') / '480p'
ANNOTATIONS_SUBDIR = Path('Annotations') / '480p'


def find_sequences(root, names=None) -> list:
    """The video names under root/JPEGImages/480p (all, or the given ones, checked)."""
    folder = Path(root) / FRAMES_SUBDIR
    if not folder.is_dir():
        raise InputError(f'dataset root {root} has no {FRAMES_SUBDIR} folder; pass a DAVIS-layout root '
                         f'(JPEGImages/480p/<video>/00000.jpg, ...)')
    available = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not available:
        raise InputError(f'{folder} holds no video folders; pass a DAVIS-layout root')
    if not names:
        return available
    unknown = [name for name in names if name not in available]
    if unknown:
        raise InputError(f'unknown sequence {unknown[0]!r}: not a folder of {folder} '
                         f'(known: {", ".join(available[:8])}{", ..." if len(available) > 8 else ""})')
    return list(names)


def parse_shard(spec: str):
    """'i/n' (1 <= i <= n) -> (i, n)."""
    try:
        index, count = (int(part) for part in spec.split('/'))
    except ValueError:
        raise InputError(f'--shard {spec!r} must look like i/n, e.g. 1/8') from None
    if not 1 <= index <= count:
        raise InputError(f'--shard {spec!r}: i must be between 1 and n')
    return index, count


def shard(names, index: int, count: int) -> list:
    """Task index of count takes every count-th video, starting at the index-th (1-based)."""
    return list(names)[index - 1::count]


def _run_one(job):
    """Run one video (in a worker process); returns (name, error message or None)."""
    name, root, out_root, config_path, options, device, threads = job
    import torch
    from ike_utils.config import load_config
    from ike_utils.frames import list_frames
    from pipeline.scoring import annotation_files, score_run
    from pipeline.video import run_video
    if threads:
        torch.set_num_threads(threads)
    try:
        config = load_config(config_path)
        out_path = Path(out_root) / name
        annotation_dir = Path(root) / ANNOTATIONS_SUBDIR / name
        if annotation_dir.is_dir():  # checked against the frames before any work
            annotation_files(annotation_dir, list_frames(Path(root) / FRAMES_SUBDIR / name, min_count=2))
        result = run_video(Path(root) / FRAMES_SUBDIR / name, out_path, config, options, torch.device(device),
                           quiet=True)
        if annotation_dir.is_dir():
            score_run(out_path, name, result['stages'], annotation_dir, result['frames'], options.threshold)
        return name, None
    except InputError as error:
        return name, str(error)
    except Exception:  # one broken video must not stop the others; its trace goes in the summary
        return name, traceback.format_exc(limit=3).strip().splitlines()[-1]


def run_dataset(root, out_root, config_path, options, names, device='cpu', workers=1, quiet=False):
    """Run every named video (skipping finished stages), then write out_root/report/.
    Returns {name: error} for the videos that failed."""
    from ike_utils.run_lock import check_out_folder
    check_out_folder(out_root)
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else 0
    jobs = [(name, str(root), str(out_root), str(config_path), options, device, threads) for name in names]
    failures = {}
    progress = tqdm(total=len(jobs), desc='videos', unit='video', disable=quiet)
    if workers > 1:
        with multiprocessing.get_context('spawn').Pool(workers) as pool:
            results = pool.imap_unordered(_run_one, jobs)
            for name, error in results:
                failures.update({name: error} if error else {})
                progress.update(1)
    else:
        for job in jobs:
            name, error = _run_one(job)
            failures.update({name: error} if error else {})
            progress.update(1)
    progress.close()
    write_dataset_report(root, out_root)
    return failures


def write_dataset_report(root, out_root):
    """out_root/report/ from every video of out_root that has scores (all shards alike)."""
    from pipeline.scoring import read_scores
    scores_by_stage, videos = {}, {}
    for run in sorted(p for p in Path(out_root).iterdir() if p.is_dir() and p.name != 'report'):
        scores = read_scores(run)
        for label, record in scores.items():
            scores_by_stage.setdefault(label, []).append(record)
        if (run / 'final' / 'masks').is_dir():
            videos[run.name] = (Path(root) / FRAMES_SUBDIR / run.name, run / 'final' / 'masks')
    if not scores_by_stage and not videos:
        return None
    order = sorted(scores_by_stage, key=lambda label: (int(label.split()[1]), label.split()[0] != 'graph'))
    return write_report(Path(out_root) / 'report', {label: scores_by_stage[label] for label in order}, videos)
