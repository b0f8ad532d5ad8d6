"""IKE on a benchmark dataset (DAVIS-2016, SegTrack-v2, YouTube-Objects v1.0 and v2.2): many videos, optionally
split over cluster tasks or processes. The layouts live in evaluation/datasets/."""
import multiprocessing
import os
import traceback
from pathlib import Path

from evaluation.datasets import open_benchmark
from evaluation.datasets.tables import to_markdown, write_csv_table
from evaluation.report import write_report
from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_dir, atomic_file
from ike_utils.errors import InputError
from ike_utils.progress import progress_bar, say
from pipeline.layout import FINAL_MASKS

TABLE_NAME = 'table'  # report/table.md and report/table.csv: the benchmark's table in the paper's form
SPAN_FRAMES = 'frames'  # OUT/<video>/frames/: links to the frames of a video that is a span of a larger folder


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


def frames_folder(sequence, run_dir) -> Path:
    """The frames folder of a video: its own folder, or, for a span of a larger folder (a
    YouTube-Objects v2.2 shot), run_dir/frames/ with a link to each of its frames (made once)."""
    if not sequence.frames:
        return sequence.frames_dir
    folder = Path(run_dir) / SPAN_FRAMES
    targets = {frame.name: os.path.abspath(frame) for frame in sequence.frames}
    if folder.is_dir() and {p.name: os.readlink(p) for p in folder.iterdir() if p.is_symlink()} == targets:
        return folder
    missing = next((frame for frame in sequence.frames if not frame.is_file()), None)
    if missing is not None:
        raise InputError(f'frame {missing} of video {sequence.name} does not exist; the release lacks a frame '
                         f'that its shot ranges name: extract it again')
    with atomic_dir(folder) as tmp:
        for name, target in targets.items():
            os.symlink(target, tmp / name)
    return folder


def _run_one(job):
    """Run one video (in a worker process); returns (name, error message or None)."""
    benchmark_name, root, sequence, out_root, config_path, options, device, threads, quiet, bars = job
    name = sequence.name
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
        result = run_video(frames_folder(sequence, out_path), out_path, config, options, torch.device(device),
                           quiet=quiet)
        benchmark = open_benchmark(benchmark_name, root)
        if benchmark.has_ground_truth(sequence):
            score_run(out_path, result['stages'], result['final'],
                      lambda result_dir, naming: benchmark.score(sequence, result_dir, options.threshold, naming))
        return name, None
    except InputError as error:
        return name, str(error)
    except Exception:  # one broken video must not stop the others; its trace goes in the summary
        return name, traceback.format_exc(limit=3).strip().splitlines()[-1]


def run_dataset(benchmark, out_root, config_path, options, sequences, device='cpu', workers=1, quiet=False,
                threads=1):
    """Run every given video of `benchmark` (skipping finished stages), `workers` at a time with
    `threads` CPU threads each, then write out_root/report/. Returns {name: error} for the videos
    that failed."""
    from ike_utils.run_lock import check_out_folder
    check_out_folder(out_root)
    bars = workers == 1  # several workers' bars would garble one terminal: they print lines only
    jobs = [(benchmark.key, str(benchmark.root), sequence, str(out_root), str(config_path), options, device, threads,
             quiet, bars) for sequence in sequences]
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
    write_dataset_report(benchmark, out_root)
    return failures


def _video_runs(benchmark, out_root) -> dict:
    """{name: (run folder, Sequence)} of the benchmark's videos that out_root holds."""
    sequences = {s.name: s for s in benchmark.sequences()}
    out_root = Path(out_root)
    runs = sorted(p for p in out_root.iterdir() if p.is_dir() and p.name in sequences) if out_root.is_dir() else []
    return {run.name: (run, sequences[run.name]) for run in runs}


def dataset_scores(benchmark, out_root) -> dict:
    """{stage label: [scores of every scored video]} of out_root, in the loop's stage order."""
    from pipeline.scoring import read_scores
    scores_by_stage = {}
    for run, _ in _video_runs(benchmark, out_root).values():
        for label, record in read_scores(run, benchmark.record_type).items():
            scores_by_stage.setdefault(label, []).append(record)
    order = sorted(scores_by_stage, key=lambda label: (int(label.split()[1]), label.split()[0] != 'graph'))
    return {label: scores_by_stage[label] for label in order}


def write_dataset_report(benchmark, out_root):
    """out_root/report/ from every video of out_root that has scores (all shards alike): the
    benchmark's table in the paper's form (table.md, table.csv) and report.md, with what made the
    results and contact sheets of the final masks (with the ground truth's outline on DAVIS).
    Returns the path of report.md, or None when no video has results yet."""
    from pipeline.provenance import read_run_record
    videos, records = {}, {}
    for name, (run, sequence) in _video_runs(benchmark, out_root).items():
        if (run / FINAL_MASKS).is_dir():
            truth = benchmark.annotation_dir(sequence)
            truth = truth if truth and truth.is_dir() else None
            videos[name] = (frames_folder(sequence, run), run / FINAL_MASKS, truth)
            records[name] = read_run_record(run)
    scores_by_stage = dataset_scores(benchmark, out_root)
    if not scores_by_stage and not videos:
        return None
    report_dir = Path(out_root) / 'report'
    table = ''
    if scores_by_stage:
        header, rows = benchmark.paper_table(scores_by_stage)
        table = f'## {benchmark.title}\n\n{to_markdown(header, rows)}\n'
        report_dir.mkdir(parents=True, exist_ok=True)
        write_csv_table(report_dir / f'{TABLE_NAME}.csv', header, rows)
        with atomic_file(report_dir / f'{TABLE_NAME}.md') as tmp:
            tmp.write_text(table)
    davis_scores = scores_by_stage if benchmark.record_type is SequenceScores else None
    return write_report(report_dir, davis_scores, videos, tables=table, provenance=provenance_lines(records))


def provenance_lines(records: dict) -> list:
    """What made the videos' results, one line per distinct record (naming its videos when they differ)."""
    from pipeline.provenance import describe
    groups = {}
    for name, record in records.items():
        groups.setdefault(describe(record), []).append(name)
    if len(groups) == 1:
        return list(groups)
    return [f'{line} ({", ".join(names)})' for line, names in groups.items()]
