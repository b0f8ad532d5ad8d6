"""Speed of the DAVIS evaluation on the dev videos: a degraded copy of the annotations (every mask
moved 6 pixels down and 10 right) evaluated against the annotations.

    flock /work/cpu.lock python benchmarks/benchmark_evaluation.py [--data ../shared/data/davis2016-dev]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation.davis import evaluate_sequences  # noqa: E402
from evaluation.scores import format_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default=str(Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'davis2016-dev'))
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    annotations = Path(args.data) / 'Annotations' / '480p'
    with tempfile.TemporaryDirectory() as results:
        for sequence in sorted(p for p in annotations.iterdir() if p.is_dir()):
            (Path(results) / sequence.name).mkdir()
            for path in sorted(sequence.glob('*.png')):
                mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                moved = np.zeros_like(mask)
                moved[6:, 10:] = mask[:-6, :-10]
                cv2.imwrite(str(Path(results) / sequence.name / path.name), moved)
        timings = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            records = evaluate_sequences(results, annotations)
            timings.append(time.perf_counter() - start)
    frames = sum(len(r.frames) for r in records)
    print(format_table(records, title='degraded copy (moved 6 down, 10 right) vs annotations'))
    best = min(timings)
    print(f'\n{frames} frames at {cv2.imread(str(next(annotations.glob("*/*.png"))), 0).shape[::-1]}: '
          f'best of {args.repeats} {best:.2f} s, {1000 * best / frames:.1f} ms/frame '
          f'(reading both PNGs, J and F)')


if __name__ == '__main__':
    main()
