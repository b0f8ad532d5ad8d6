"""IKE on a benchmark dataset (DAVIS-2016, SegTrack-v2, YouTube-Objects): many videos, optionally
split over cluster tasks or processes. The layouts live in evaluation/datasets/."""
import multiprocessing
import os
import traceback
from pathlib import Path

from tqdm import tqdm

from evaluation.datasets import open_benchmark
from evaluation.datasets.tables import to_markdown, write_csv_table
from evaluation.report import write_report
from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError

TABLE_NAME = 'table'  # report/table.md and report/table.csv: the benchmark's table in the paper's form


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
    benchmark_name, root, sequence, out_root, config_path, options, device, threads = job
    name = sequence.name
    import torch
    from ike_utils.config import load_config
    from pipeline.scoring import score_run
    from pipeline.video import run_video
    if threads:
        torch.set_num_threads(threads)
    try:
        config = load_config(config_path)
        out_path = Path(out_root) / name
        result = run_video(sequence.frames_dir, out_path, config, options, torch.device(device), quiet=True)
        benchmark = open_benchmark(benchmark_name, root)
        if benchmark.has_ground_truth(sequence):
            score_run(out_path, result['stages'], config,
                      lambda result_dir: benchmark.score(sequence, result_dir, options.threshold))
        return name, None
    except InputError as error:
        return name, str(error)
    except Exception:  # one broken video must not stop the others; its trace goes in the summary
        return name, traceback.format_exc(limit=3).strip().splitlines()[-1]


def run_dataset(benchmark, out_root, config_path, options, sequences, device='cpu', workers=1, quiet=False):
    """Run every given video of `benchmark` (skipping finished stages), then write out_root/report/.
    Returns {name: error} for the videos that failed."""
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else 0
    jobs = [(benchmark.key, str(benchmark.root), sequence, str(out_root), str(config_path), options, device, threads)
            for sequence in sequences]
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
    write_dataset_report(benchmark, out_root)
    return failures


def write_dataset_report(benchmark, out_root):
    """out_root/report/ from every video of out_root that has scores (all shards alike): the
    benchmark's table in the paper's form (table.md, table.csv) and report.md."""
    from pipeline.scoring import read_scores
    frames_dirs = {s.name: s.frames_dir for s in benchmark.sequences()}
    scores_by_stage, videos = {}, {}
    for run in sorted(p for p in Path(out_root).iterdir() if p.is_dir() and p.name in frames_dirs):
        scores = read_scores(run, benchmark.record_type)
        for label, record in scores.items():
            scores_by_stage.setdefault(label, []).append(record)
        if (run / 'final' / 'masks').is_dir():
            videos[run.name] = (frames_dirs[run.name], run / 'final' / 'masks')
    if not scores_by_stage and not videos:
        return None
    order = sorted(scores_by_stage, key=lambda label: (int(label.split()[1]), label.split()[0] != 'graph'))
    scores_by_stage = {label: scores_by_stage[label] for label in order}
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
    return write_report(report_dir, davis_scores, videos, tables=table)
