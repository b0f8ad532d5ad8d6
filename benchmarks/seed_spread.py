"""How much a DAVIS dataset run's J and F move with the network's seed: runs of run_ike.py that
differ only in --seed, per seed, then the mean over seeds and the range.

    python benchmarks/seed_spread.py runs/dev_seed0 runs/dev_seed1 runs/dev_seed2

Each RUN is the --out_path of `run_ike.py --dataset_root ...` (its <video>/scores.json and
<video>/run.json are read; the last stage is scored on the delivered final masks, as run_ike.py
does). Prints two markdown tables, J mean (F mean) per stage: every video and the mean over the
videos for each seed, then the mean over seeds with the lowest and highest in brackets.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ike_utils.cli import run_cli  # noqa: E402
from ike_utils.errors import InputError  # noqa: E402


def read_run(run: Path) -> tuple:
    """(seed, {video: {stage: (J mean, F mean)}}) of one dataset run."""
    videos = sorted(path.parent.name for path in run.glob('*/scores.json'))
    if not videos:
        raise InputError(f'no <video>/scores.json under {run}; give the --out_path of a finished '
                         'run_ike.py --dataset_root run with annotations (DAVIS)')
    seeds = {json.loads((run / video / 'run.json').read_text())['seed'] for video in videos}
    if len(seeds) != 1:
        raise InputError(f'the videos of {run} were run with different seeds ({sorted(seeds)})')
    scores = {}
    for video in videos:
        stages = json.loads((run / video / 'scores.json').read_text())
        if any('J_mean' not in record for record in stages.values()):
            raise InputError(f'{run / video / "scores.json"} holds no J and F; only DAVIS runs are supported')
        scores[video] = {stage: (record['J_mean'], record['F_mean']) for stage, record in stages.items()}
    return seeds.pop(), scores


def with_mean(scores: dict) -> dict:
    """`scores` plus a 'mean' row: the mean over videos of each stage."""
    stages = next(iter(scores.values()))
    mean = {stage: tuple(sum(video[stage][k] for video in scores.values()) / len(scores) for k in (0, 1))
            for stage in stages}
    return {**scores, 'mean': mean}


def spread(values) -> str:
    """Mean over seeds, and the range when the values differ in the third decimal."""
    low, high, mean = min(values), max(values), sum(values) / len(values)
    return f'{mean:.3f}' if f'{low:.3f}' == f'{high:.3f}' else f'{mean:.3f} ({low:.3f} to {high:.3f})'


def tables(runs: dict) -> list:
    """Markdown lines of both tables; `runs` is {seed: {video: {stage: (J, F)}}}."""
    seeds = sorted(runs)
    rows = {seed: with_mean(runs[seed]) for seed in seeds}
    names, stages = list(rows[seeds[0]]), list(next(iter(runs[seeds[0]].values())))
    if any(list(rows[seed]) != names or list(rows[seed]['mean']) != stages for seed in seeds):
        raise InputError('the runs differ in their videos or stages; give runs of the same command')
    header = ['| J mean (F mean) | ' + ' | '.join(stages) + ' |', '| --- |' + ' ---: |' * len(stages)]
    lines = ['Per seed:', '', header[0].replace('|', '| seed |', 1), '| --- ' + header[1]]
    for seed in seeds:
        lines += [f'| {seed} | {name} | ' + ' | '.join(f'{j:.3f} ({f:.3f})' for j, f in rows[seed][name].values())
                  + ' |' for name in names]
    lines += ['', f'Over seeds {", ".join(map(str, seeds))}: mean (lowest to highest)', '', *header]
    for name in names:
        for k, measure in enumerate(('J', 'F')):
            lines.append(f'| {name}, {measure} | ' + ' | '.join(
                spread([rows[seed][name][stage][k] for seed in seeds]) for stage in stages) + ' |')
    return lines


def main(run_folders) -> None:
    runs = dict(read_run(Path(folder)) for folder in run_folders)
    if len(runs) != len(run_folders):
        raise InputError('two of the runs have the same seed; give runs made with different --seed')
    print('\n'.join(tables(runs)))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', help='--out_path folders of run_ike.py --dataset_root runs, one per seed')
    run_cli(main, parser.parse_args().runs)
