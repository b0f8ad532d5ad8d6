"""IKE on a DAVIS-layout dataset: many videos, optionally split over cluster tasks or processes."""
import multiprocessing
import traceback
from pathlib import Path

from evaluation.report import write_report
from ike_utils.errors import InputError
from ike_utils.progress import progress_bar, say
from pipeline.layout import FINAL_MASKS

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
    name, root, out_root, config_path, options, device, threads, quiet, bars = job
    import torch
    from ike_utils.config import load_config
    from ike_utils.progress import allow_bars
    from ike_utils.threads import use_threads
    from pipeline.scoring import score_run
    from pipeline.video import run_video
    use_threads(threads)
    allow_bars(bars)
    try:
        config = load_config(config_path)
        out_path = Path(out_root) / name
        result = run_video(Path(root) / FRAMES_SUBDIR / name, out_path, config, options, torch.device(device),
                           quiet=quiet)
        annotation_dir = Path(root) / ANNOTATIONS_SUBDIR / name
        if annotation_dir.is_dir():
            score_run(out_path, name, result['stages'], annotation_dir, options.threshold)
        return name, None
    except InputError as error:
        return name, str(error)
    except Exception:  # one broken video must not stop the others; its trace goes in the summary
        return name, traceback.format_exc(limit=3).strip().splitlines()[-1]


def run_dataset(root, out_root, config_path, options, names, device='cpu', workers=1, quiet=False, threads=1):
    """Run every named video (skipping finished stages), `workers` at a time with `threads` CPU
    threads each, then write out_root/report/. Returns {name: error} for the videos that failed."""
    bars = workers == 1  # several workers' bars would garble one terminal: they print lines only
    jobs = [(name, str(root), str(out_root), str(config_path), options, device, threads, quiet, bars)
            for name in names]
    failures = {}
    progress = progress_bar(total=len(jobs), desc='videos', unit='video', quiet=quiet)

    done = []

    def finished(name, error):
        failures.update({name: error} if error else {})
        done.append(name)
        progress.update(1)
        say(f'video {len(done)}/{len(jobs)} {name}: {"failed: " + error if error else "finished"}', quiet)

    if workers > 1:
        with multiprocessing.get_context('spawn').Pool(workers) as pool:
            for name, error in pool.imap_unordered(_run_one, jobs):
                finished(name, error)
    else:
        for job in jobs:
            finished(*_run_one(job))
    progress.close()
    write_dataset_report(root, out_root)
    return failures


def _video_runs(out_root) -> list:
    out_root = Path(out_root)
    return sorted(p for p in out_root.iterdir() if p.is_dir() and p.name != 'report') if out_root.is_dir() else []


def dataset_scores(out_root) -> dict:
    """{stage label: [SequenceScores of every scored video]} of out_root, in the loop's stage order."""
    from pipeline.scoring import read_scores
    scores_by_stage = {}
    for run in _video_runs(out_root):
        for label, record in read_scores(run).items():
            scores_by_stage.setdefault(label, []).append(record)
    order = sorted(scores_by_stage, key=lambda label: (int(label.split()[1]), label.split()[0] != 'graph'))
    return {label: scores_by_stage[label] for label in order}


def write_dataset_report(root, out_root):
    """out_root/report/ from every video of out_root that has scores (all shards alike); returns the
    path of report.md, or None when no video has results yet."""
    from pipeline.provenance import read_run_record
    videos, records = {}, {}
    for run in _video_runs(out_root):
        if (run / FINAL_MASKS).is_dir():
            annotations = Path(root) / ANNOTATIONS_SUBDIR / run.name
            videos[run.name] = (Path(root) / FRAMES_SUBDIR / run.name, run / FINAL_MASKS,
                                annotations if annotations.is_dir() else None)
            records[run.name] = read_run_record(run)
    scores_by_stage = dataset_scores(out_root)
    if not scores_by_stage and not videos:
        return None
    return write_report(Path(out_root) / 'report', scores_by_stage, videos, provenance=provenance_lines(records))


def provenance_lines(records: dict) -> list:
    """What made the videos' results, one line per distinct record (naming its videos when they differ)."""
    from pipeline.provenance import describe
    groups = {}
    for name, record in records.items():
        groups.setdefault(describe(record), []).append(name)
    if len(groups) == 1:
        return list(groups)
    return [f'{line} ({", ".join(names)})' for line, names in groups.items()]
