"""Evaluate segmentation masks with a benchmark's protocol (default DAVIS-2016: J and F mean, recall, decay).

    python evaluate.py --results RUN --annotations DAVIS/Annotations/480p [--stage final|graph1|network1|...]
    python evaluate.py --results R --annotations DAVIS/Annotations/480p [--sequences a,b] \
        [--threshold 0.5] [--csv scores.csv] [--json scores.json] [--quiet]
    python evaluate.py --dataset segtrackv2 --results R --annotations SegTrackv2/GroundTruth
    python evaluate.py --dataset youtube-objects --results R --annotations YouTube-Objects
    python evaluate.py --dataset youtube-objects-v2.2 --results R --annotations YouTube-Objects-v2.2

RUN is what run_ike.py wrote (--out_path): a dataset run, or one video's run (on DAVIS, scored
against that video's ground-truth folder or the annotations root).
"""
from pathlib import Path

from evaluation.datasets import BENCHMARKS, DEFAULT_BENCHMARK, open_benchmark
from evaluation.datasets.base import RESULT_NAMING
from evaluation.datasets.evaluate import evaluate_results, format_results, write_results
from evaluation.davis import evaluate_folders, evaluate_sequences
from evaluation.scores import format_table, write_csv, write_json
from ike_utils.cli import ArgumentParser, run_cli
from ike_utils.run_lock import check_out_file
from ike_utils.errors import InputError
from pipeline.layout import parse_stage, stage_masks, stage_naming, video_runs


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('--results', required=True,
                        help='an --out_path of run_ike.py (a dataset or one video), or a folder with one folder of '
                             'masks per sequence (%%05d.png, binary 0/255 or grey soft maps)')
    parser.add_argument('--annotations', required=True,
                        help='the ground truth: DAVIS Annotations/480p; SegTrack-v2 GroundTruth (or its root); '
                             'the YouTube-Objects v1.0 root (boxes beside the frames, youtube_masks/ in or beside it); '
                             'the YouTube-Objects v2.2 root (with Ranges/ and GroundTruth/)')
    parser.add_argument('--stage', default='final',
                        help='which masks of a run_ike.py folder: final (the delivered masks), graph1, network1, '
                             'graph2, ... (default: final)')
    parser.add_argument('--dataset', default=DEFAULT_BENCHMARK, choices=list(BENCHMARKS),
                        help='the benchmark and its protocol (default: davis2016)')
    parser.add_argument('--results_named', default='index', choices=RESULT_NAMING,
                        help='segtrackv2, youtube-objects(-v2.2), a folder of masks that is not a run_ike.py '
                             'output: masks named %%05d.png by frame index (default) or like the frame files '
                             '(bmx_06668.png); a run_ike.py output is read as it was written')
    parser.add_argument('--sequences', default='',
                        help='comma-separated sequence names (default: every sequence folder of --results)')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='a result pixel is foreground when value/255 >= threshold (default: 0.5)')
    parser.add_argument('--csv', help='write the per-sequence statistics and the means to this CSV file')
    parser.add_argument('--json', help='write everything (also per-frame scores) to this JSON file')
    parser.add_argument('--quiet', action='store_true', help='no progress bar (the scores are printed)')
    return parser.parse_args(argv)


def chosen_runs(runs, sequences=None) -> list:
    """The video runs named in `sequences` (all when None), in that order."""
    if not sequences:
        return runs
    known = {run.name: run for run in runs}
    unknown = [name for name in sequences if name not in known]
    if unknown:
        raise InputError(f'unknown sequence {unknown[0]!r}: the run holds {", ".join(sorted(known))}')
    return [known[name] for name in sequences]


def davis_run_folders(runs, annotations, stage: str) -> dict:
    """name -> (masks of `stage`, ground-truth folder) for DAVIS video runs; `annotations` is the
    annotations root, or one video's folder of masks when there is one run."""
    annotations = Path(annotations)
    holds_masks = annotations.is_dir() and any(annotations.glob('*.png'))
    if holds_masks and len(runs) > 1:
        raise InputError(f'{annotations} holds masks, but the run has {len(runs)} videos; pass the annotations '
                         f'root, with one folder per video')
    return {run.name: (stage_masks(run, *parse_stage(stage)), annotations if holds_masks else annotations / run.name)
            for run in runs}


def evaluate_run(args, runs, sequences):
    """Score the masks of --stage of every video run of a run_ike.py output."""
    runs = chosen_runs(runs, sequences)
    what = f'{args.results}, stage {args.stage}'
    if args.dataset == DEFAULT_BENCHMARK:
        records = evaluate_folders(davis_run_folders(runs, args.annotations, args.stage), args.threshold,
                                   quiet=args.quiet)
        print(format_table(records, title=f'DAVIS-2016 evaluation of {what} (threshold {args.threshold})'))
        return records
    benchmark = open_benchmark(args.dataset, args.annotations)
    chosen = benchmark.sequences([run.name for run in runs])
    stage = parse_stage(args.stage)
    records = [benchmark.score(sequence, stage_masks(run, *stage), args.threshold, stage_naming(stage[0]))
               for sequence, run in zip(chosen, runs)]
    print(f'{what}\n{format_results(benchmark, records)}')
    write_results(benchmark, records, args.csv, args.json)
    return records


def main(argv=None):
    args = parse_args(argv)
    sequences = [name.strip() for name in args.sequences.split(',') if name.strip()] or None
    for flag, path in (('--csv', args.csv), ('--json', args.json)):
        if path:
            check_out_file(path, flag)
    runs = video_runs(args.results)
    if runs:
        records = evaluate_run(args, runs, sequences)
        if args.dataset == DEFAULT_BENCHMARK:
            _write_davis(args, records)
        return records
    if args.stage != 'final':
        raise InputError(f'--stage applies to a run_ike.py output folder, and {args.results} is none (it has no '
                         f'flow/ or cycle_1/, nor video folders that do)')
    if args.dataset != DEFAULT_BENCHMARK:
        benchmark = open_benchmark(args.dataset, args.annotations)
        records = evaluate_results(benchmark, args.results, sequences, args.threshold, args.results_named, args.quiet)
        print(format_results(benchmark, records))
        write_results(benchmark, records, args.csv, args.json)
        return records
    records = evaluate_sequences(args.results, args.annotations, sequences, args.threshold, quiet=args.quiet)
    print(format_table(records, title=f'DAVIS-2016 evaluation of {args.results} (threshold {args.threshold})'))
    _write_davis(args, records)
    return records


def _write_davis(args, records) -> None:
    if args.csv:
        write_csv(args.csv, records)
    if args.json:
        write_json(args.json, records, threshold=args.threshold)


if __name__ == '__main__':
    run_cli(main)
