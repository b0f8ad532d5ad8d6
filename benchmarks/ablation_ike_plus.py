"""The IKE+ ablation: each change alone and all together, J and F of every stage, on the dev videos.

    python benchmarks/ablation_ike_plus.py --out_path runs/ablation [--variants faithful,ike_plus] [--jobs 2]

Every variant is configs/cpu.ini with some keys changed (VARIANTS) and runs the whole loop
(`run_ike.py --flow_method dis --seed 0`) on the three DAVIS-2016 dev videos and the five SegTrack dev
videos of ../shared/data. A rerun skips the finished runs (run_ike.py's own resume). Then every
stage's soft maps are scored at 0.5 (DAVIS protocol: first and last frame left out) and a markdown
table is printed: mean J (F) per stage, per dataset.
"""
import argparse
import configparser
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.davis import evaluate_sequence  # noqa: E402

DATA = ROOT.parent / 'shared' / 'data'
DATASETS = {
    'DAVIS dev': [(v, DATA / 'davis2016-dev/JPEGImages/480p' / v, DATA / 'davis2016-dev/Annotations/480p' / v)
                  for v in ('blackswan', 'car-shadow', 'libby')],
    'SegTrack dev': [(v, DATA / 'segtrack-v1-dev/JPEGImages' / v, DATA / 'segtrack-v1-dev/GroundTruth' / v)
                     for v in ('birdfall', 'cheetah', 'girl', 'monkeydog', 'parachute')],
}
SMALL = {'General': {'working_h': '112', 'working_w': '208'}}
IKE_PLUS = ROOT / 'configs' / 'ike_plus.ini'
# name -> (base config, {section: {key: value}}); 'ike_plus' is the preset itself
VARIANTS = {
    'faithful (cpu.ini)': ('cpu.ini', {}),
    'working size 112x208': ('cpu.ini', SMALL),
    '+ pixel features': ('cpu.ini', {**SMALL, 'Graph Module': {
        'pixel_features': 'relative_motion, colour, position'}}),
    '+ motion prior': ('cpu.ini', {**SMALL, 'Graph Module': {'motion_prior': '0.1'}}),
    '+ learning rate 1e-3': ('cpu.ini', {**SMALL, 'Network Module': {'learning_rate': '0.001'}}),
    '+ augment and test-time flip': ('cpu.ini', {**SMALL, 'Network Module': {
        'augment': 'true', 'test_time_flip': 'true'}}),
    'ike_plus (all)': ('ike_plus.ini', {}),
}
CYCLES = 3


def slug(name: str) -> str:
    return ''.join(c if c.isalnum() else '_' for c in name).strip('_')


def write_config(base: str, changes: dict, path: Path) -> Path:
    parser = configparser.ConfigParser(inline_comment_prefixes=(';', '#'))
    parser.read(ROOT / 'configs' / base)
    for section, values in changes.items():
        for key, value in values.items():
            parser.set(section, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def run_loop(config: Path, frames: Path, out: Path, quiet: bool) -> float:
    began = time.perf_counter()
    command = [sys.executable, str(ROOT / 'run_ike.py'), '--frames_path', str(frames), '--out_path', str(out),
               '--config', str(config), '--flow_method', 'dis', '--seed', '0', '--cycles', str(CYCLES),
               '--device', 'cpu', '--quiet']
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL if quiet else None,
                   env={**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')})
    return time.perf_counter() - began


def stage_folders(out: Path):
    """(label, soft PNG folder) of every stage of a finished run, in loop order."""
    for cycle in range(1, CYCLES + 1):
        yield f'graph {cycle}', out / f'cycle_{cycle}' / 'graph' / 'iter_19_images'
        if cycle < CYCLES:
            epochs = sorted((out / f'cycle_{cycle}' / 'network' / 'results_images').glob('epoch_*'))
            yield f'network {cycle}', epochs[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out_path', default='runs/ablation', help='runs go to OUT/<variant>/<video>')
    parser.add_argument('--variants', help='comma-separated variant names (default: all): ' + '; '.join(VARIANTS))
    parser.add_argument('--jobs', type=int, default=1, help='loops run at once (one thread each)')
    parser.add_argument('--quiet', action='store_true', help='no run_ike.py output')
    args = parser.parse_args()
    names = args.variants.split(',') if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f'unknown variant {unknown[0]!r}; choose from: {", ".join(VARIANTS)}')
    out_root = Path(args.out_path)
    work = []
    for name in names:
        base, changes = VARIANTS[name]
        config = write_config(base, changes, out_root / slug(name) / 'config.ini')
        for dataset, videos in DATASETS.items():
            for video, frames, annotations in videos:
                work.append((name, dataset, video, config, frames, annotations, out_root / slug(name) / video))
    with ThreadPoolExecutor(args.jobs) as pool:
        seconds = list(pool.map(lambda w: run_loop(w[3], w[4], w[6], args.quiet), work))

    table = {}
    for (name, dataset, video, _, _, annotations, out), took in zip(work, seconds):
        for label, folder in stage_folders(out):
            scores = evaluate_sequence(folder, annotations, threshold=0.5, name=video)
            table.setdefault((name, dataset), {}).setdefault(label, []).append((scores.J_mean, scores.F_mean))
        table[(name, dataset)].setdefault('seconds', []).append(took)
    labels = [f'{s} {c}' for c in range(1, CYCLES + 1) for s in (('graph', 'network') if c < CYCLES else ('graph',))]
    for dataset in DATASETS:
        print(f'\n{dataset}: mean J (F) per stage\n')
        print('| variant | ' + ' | '.join(labels) + ' | s per video |')
        print('| --- |' + ' ---: |' * (len(labels) + 1))
        for name in names:
            stages = table[(name, dataset)]
            cells = []
            for label in labels:
                pairs = stages[label]
                j = sum(p[0] for p in pairs) / len(pairs)
                f = sum(p[1] for p in pairs) / len(pairs)
                cells.append(f'{j:.3f} ({f:.3f})')
            took = stages['seconds']
            print(f'| {name} | ' + ' | '.join(cells) + f' | {sum(took) / len(took):.0f} |')


if __name__ == '__main__':
    main()
