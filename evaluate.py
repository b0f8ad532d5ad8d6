"""Evaluate segmentation masks with the DAVIS-2016 protocol (J and F: mean, recall, decay).

    python evaluate.py --results RUN --annotations DAVIS/Annotations/480p [--stage final|graph1|network1|...]
    python evaluate.py --results R --annotations DAVIS/Annotations/480p [--sequences a,b] \\
        [--threshold 0.5] [--csv scores.csv] [--json scores.json] [--quiet]

RUN is what run_ike.py wrote (--out_path): one video's run, scored against that video's
ground-truth folder, or a dataset run, scored against the annotations root.
"""
import argparse
from pathlib import Path

from evaluation.davis import evaluate_folders, evaluate_sequences
from evaluation.scores import format_table, write_csv, write_json
from ike_utils.cli import run_cli
from ike_utils.errors import InputError
from pipeline.layout import parse_stage, stage_masks, video_runs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--results', required=True,
                        help='an --out_path of run_ike.py (one video or a dataset), or a folder with one folder of '
                             'masks per sequence (%%05d.png, binary 0/255 or grey soft maps)')
    parser.add_argument('--annotations', required=True,
                        help='folder with one folder of ground-truth masks per sequence (DAVIS Annotations/480p); '
                             'for one video\'s run, that video\'s folder of masks also works')
    parser.add_argument('--stage', default='final',
                        help='which masks of a run_ike.py folder: final (the delivered masks), graph1, network1, '
                             'graph2, ... (default: final)')
    parser.add_argument('--sequences', default='',
                        help='comma-separated sequence names (default: every sequence folder of --results)')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='a result pixel is foreground when value/255 >= threshold (default: 0.5)')
    parser.add_argument('--csv', help='write the per-sequence statistics and the means to this CSV file')
    parser.add_argument('--json', help='write everything (also per-frame scores) to this JSON file')
    parser.add_argument('--quiet', action='store_true', help='no progress bar (the scores are printed)')
    return parser.parse_args(argv)


def run_folders(runs, annotations, stage: str, sequences=None) -> dict:
    """name -> (masks of `stage`, ground-truth folder) for the video runs of a run_ike.py output."""
    stage, cycle = parse_stage(stage)
    if sequences:
        known = {run.name: run for run in runs}
        unknown = [name for name in sequences if name not in known]
        if unknown:
            raise InputError(f'unknown sequence {unknown[0]!r}: the run holds {", ".join(sorted(known))}')
        runs = [known[name] for name in sequences]
    annotations = Path(annotations)
    holds_masks = annotations.is_dir() and any(annotations.glob('*.png'))
    if holds_masks and len(runs) > 1:
        raise InputError(f'{annotations} holds masks, but the run has {len(runs)} videos; pass the annotations '
                         f'root, with one folder per video')
    return {run.name: (stage_masks(run, stage, cycle), annotations if holds_masks else annotations / run.name)
            for run in runs}


def main(argv=None):
    args = parse_args(argv)
    sequences = [name.strip() for name in args.sequences.split(',') if name.strip()] or None
    runs = video_runs(args.results)
    if runs:
        folders = run_folders(runs, args.annotations, args.stage, sequences)
        records = evaluate_folders(folders, args.threshold, quiet=args.quiet)
        what = f'{args.results}, stage {args.stage}'
    elif args.stage != 'final':
        raise InputError(f'--stage applies to a run_ike.py output folder, and {args.results} is none (it has no '
                         f'flow/ or cycle_1/, nor video folders that do)')
    else:
        records = evaluate_sequences(args.results, args.annotations, sequences, args.threshold, quiet=args.quiet)
        what = args.results
    print(format_table(records, title=f'DAVIS-2016 evaluation of {what} (threshold {args.threshold})'))
    if args.csv:
        write_csv(args.csv, records)
    if args.json:
        write_json(args.json, records, threshold=args.threshold)
    return records


if __name__ == '__main__':
    run_cli(main)
