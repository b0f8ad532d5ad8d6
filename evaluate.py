"""Evaluate segmentation masks with the DAVIS-2016 protocol (J and F: mean, recall, decay).

    python evaluate.py --results R --annotations DAVIS/Annotations/480p [--sequences a,b] \
        [--threshold 0.5] [--csv scores.csv] [--json scores.json] [--quiet]
"""
import argparse

from evaluation.davis import evaluate_sequences
from evaluation.scores import format_table, write_csv, write_json
from ike_utils.cli import run_cli
from ike_utils.run_lock import check_out_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', required=True,
                        help='folder with one folder of masks per sequence (%%05d.png, binary 0/255 or grey soft maps)')
    parser.add_argument('--annotations', required=True,
                        help='folder with one folder of ground-truth masks per sequence (DAVIS Annotations/480p)')
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
    for flag, path in (('--csv', args.csv), ('--json', args.json)):
        if path:
            check_out_file(path, flag)
    records = evaluate_sequences(args.results, args.annotations, sequences, args.threshold, quiet=args.quiet)
    print(format_table(records, title=f'DAVIS-2016 evaluation of {args.results} (threshold {args.threshold})'))
    if args.csv:
        write_csv(args.csv, records)
    if args.json:
        write_json(args.json, records, threshold=args.threshold)
    return records


if __name__ == '__main__':
    run_cli(main)
