"""Evaluate segmentation masks with a benchmark's protocol (default DAVIS-2016: J and F mean, recall, decay).

    python evaluate.py --results R --annotations DAVIS/Annotations/480p [--sequences a,b] \
        [--threshold 0.5] [--csv scores.csv] [--json scores.json] [--quiet]
    python evaluate.py --dataset segtrackv2 --results R --annotations SegTrackv2/GroundTruth
    python evaluate.py --dataset youtube-objects --results R --annotations YouTube-Objects
"""
import argparse

from evaluation.datasets import BENCHMARKS, DEFAULT_BENCHMARK, open_benchmark
from evaluation.datasets.base import RESULT_NAMING
from evaluation.datasets.evaluate import evaluate_results, format_results, write_results
from evaluation.davis import evaluate_sequences
from evaluation.scores import format_table, write_csv, write_json
from ike_utils.cli import run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', required=True,
                        help='folder with one folder of masks per sequence (%%05d.png, binary 0/255 or grey soft maps)')
    parser.add_argument('--annotations', required=True,
                        help='the ground truth: DAVIS Annotations/480p; SegTrack-v2 GroundTruth (or its root); '
                             'the YouTube-Objects root (boxes beside the frames, youtube_masks/ in or beside it)')
    parser.add_argument('--dataset', default=DEFAULT_BENCHMARK, choices=list(BENCHMARKS),
                        help='the benchmark and its protocol (default: davis2016)')
    parser.add_argument('--results_named', default='index', choices=RESULT_NAMING,
                        help='segtrackv2, youtube-objects: result masks named %%05d.png by frame index '
                             '(as run_ike.py writes; default) or like the frame files (bmx_06668.png)')
    parser.add_argument('--sequences', default='',
                        help='comma-separated sequence names (default: every sequence folder of --results)')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='a result pixel is foreground when value/255 >= threshold (default: 0.5)')
    parser.add_argument('--csv', help='write the per-sequence statistics and the means to this CSV file')
    parser.add_argument('--json', help='write everything (also per-frame scores) to this JSON file')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sequences = [name.strip() for name in args.sequences.split(',') if name.strip()] or None
    if args.dataset != DEFAULT_BENCHMARK:
        benchmark = open_benchmark(args.dataset, args.annotations)
        records = evaluate_results(benchmark, args.results, sequences, args.threshold, args.results_named, args.quiet)
        print(format_results(benchmark, records))
        write_results(benchmark, records, args.csv, args.json)
        return records
    records = evaluate_sequences(args.results, args.annotations, sequences, args.threshold, quiet=args.quiet)
    print(format_table(records, title=f'DAVIS-2016 evaluation of {args.results} (threshold {args.threshold})'))
    if args.csv:
        write_csv(args.csv, records)
    if args.json:
        write_json(args.json, records, threshold=args.threshold)
    return records


if __name__ == '__main__':
    run_cli(main)
