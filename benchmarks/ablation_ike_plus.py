"""The IKE+ ablation: each change alone and all together, J and F of every stage, on the dev videos.

    python benchmarks/ablation_ike_plus.py --out_path runs/ablation [--variants A,B] [--jobs 2]
        [--plot images/ike_plus_by_stage.png] [--figure images/ike_plus_results.jpg]

Every variant is configs/cpu.ini with some keys changed (VARIANTS) and runs the whole loop
(`run_ike.py --flow_method dis --seed S`, S = 0 unless --seed) on the three DAVIS-2016 dev videos and the five SegTrack dev
videos of ../shared/data. A rerun skips the finished runs (run_ike.py's own resume). Then every
stage's soft maps are scored at 0.5 (DAVIS protocol: first and last frame left out) and a markdown
table is printed: mean J (F) per stage, per dataset. `--plot` draws the same means against the
stage, one line per variant; `--figure` shows one frame of every video with the final masks of the
first and the last variant side by side.
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from evaluation.davis import evaluate_sequence  # noqa: E402
from evaluation.report import label_tile, read_mask  # noqa: E402
from ike_utils.frames import list_frames, read_frame_bgr  # noqa: E402
from ike_utils.images import overlay_mask, write_image  # noqa: E402

DATA = ROOT.parent / 'shared' / 'data'
DATASETS = {
    'DAVIS dev': [(v, DATA / 'davis2016-dev/JPEGImages/480p' / v, DATA / 'davis2016-dev/Annotations/480p' / v)
                  for v in ('blackswan', 'car-shadow', 'libby')],
    'SegTrack dev': [(v, DATA / 'segtrack-v1-dev/JPEGImages' / v, DATA / 'segtrack-v1-dev/GroundTruth' / v)
                     for v in ('birdfall', 'cheetah', 'girl', 'monkeydog', 'parachute')],
}
SMALL = {'General': {'working_h': '112', 'working_w': '208'}}
# the network of the third session's preset: 15 epochs of one pass each, the last step's weights
FIFTEEN_EPOCHS = {'n_epochs': '15', 'to_save_epochs': '15', 'weight_average': '0', 'min_epoch_steps': '0'}
# the preset as the first two sessions left it: without the test-time flip and the guided filter
V1 = {'Network Module': {**FIFTEEN_EPOCHS, 'test_time_flip': 'false', 'guided_filter_radius': '0'},
      'Graph Module': {'guided_filter_radius': '0'}}
# the preset as the fourth session left it: no cue blend, every network from scratch
FOURTH_SESSION = {'Graph Module': {'cue_blend': '0'}, 'Network Module': {'warm_start_epochs': '0'}}


def merged(*changes):
    """The union of {section: {key: value}} changes, later ones winning."""
    out = {}
    for change in changes:
        for section, values in change.items():
            out.setdefault(section, {}).update(values)
    return out


# the preset as the fifth session left it: the plain mean of the test-time flip's two views
FIFTH_SESSION = {'Network Module': {'test_time_flip_by_agreement': 'false'}}


def earlier(changes):
    """A variant measured before the fifth session: the preset of then, with `changes`."""
    return ('ike_plus.ini', merged(FIFTH_SESSION, FOURTH_SESSION, changes))


def fifth(changes):
    """A variant measured in the fifth or the sixth session: the preset of then, with `changes`."""
    return ('ike_plus.ini', merged(FIFTH_SESSION, changes))


FLIPS_ONLY = {'Network Module': {'augment': 'true', 'augment_min_crop': '1'}}
# name -> (base config, {section: {key: value}}); 'ike_plus (all)' is the preset itself
VARIANTS = {
    'faithful (cpu.ini)': ('cpu.ini', {}),
    'working size 112x208': ('cpu.ini', SMALL),
    '+ pixel features': ('cpu.ini', {**SMALL, 'Graph Module': {
        'pixel_features': 'relative_motion, colour, position'}}),
    '+ motion prior': ('cpu.ini', {**SMALL, 'Graph Module': {'motion_prior': '0.1'}}),
    '+ learning rate 1e-3 and 15 epochs': ('cpu.ini', {**SMALL, 'Network Module': {
        'learning_rate': '0.001', 'n_epochs': '15', 'to_save_epochs': '15'}}),
    'ike_plus v1 (no flip and no guided filter)': earlier(V1),
    'ike_plus v1 + test-time flip': earlier({'Graph Module': {'guided_filter_radius': '0'},
                                             'Network Module': {**FIFTEEN_EPOCHS, 'guided_filter_radius': '0'}}),
    'ike_plus with the guided filter on the graph only': earlier({'Network Module': {
        **FIFTEEN_EPOCHS, 'guided_filter_radius': '0'}}),
    'ike_plus with the guided filter on both (15 epochs)': earlier({'Network Module': FIFTEEN_EPOCHS}),
    'ike_plus with 8 epochs of at least 23 steps': earlier({'Network Module': {
        'n_epochs': '8', 'to_save_epochs': '8', 'weight_average': '0'}}),
    'ike_plus with 8 epochs of at least 23 steps and weight average 0.98': earlier({'Network Module': {
        'n_epochs': '8', 'to_save_epochs': '8'}}),
    'ike_plus (fourth session)': earlier({}),
    'ike_plus (fourth session) without the weight average': earlier({'Network Module': {'weight_average': '0'}}),
    'ike_plus without the warm start': fifth({'Network Module': {'warm_start_epochs': '0'}}),
    'ike_plus without the cue blend': fifth({'Graph Module': {'cue_blend': '0'}}),
    'ike_plus (fifth session)': fifth({}),
    'ike_plus (all)': ('ike_plus.ini', {}),
    # candidates not in the preset (README, "What we tried")
    'ike_plus v1 with 8 epochs': earlier({'Graph Module': V1['Graph Module'], 'Network Module': {
        **V1['Network Module'], 'n_epochs': '8', 'to_save_epochs': '8'}}),
    'ike_plus with 8 epochs': earlier({'Network Module': {**FIFTEEN_EPOCHS, 'n_epochs': '8', 'to_save_epochs': '8'}}),
    'ike_plus with 8 epochs and weight average 0.98': earlier({'Network Module': {
        **FIFTEEN_EPOCHS, 'n_epochs': '8', 'to_save_epochs': '8', 'weight_average': '0.98'}}),
    'ike_plus with width 8': earlier({'Network Module': {**FIFTEEN_EPOCHS, 'base_channels': '8'}}),
    'ike_plus (fourth session) + flip augmentation': earlier(FLIPS_ONLY),
    'ike_plus without the warm start + flip augmentation': fifth(merged(
        {'Network Module': {'warm_start_epochs': '0'}}, FLIPS_ONLY)),
    'ike_plus with 5 epochs and a warm start of 2': fifth({'Network Module': {
        'n_epochs': '5', 'to_save_epochs': '5', 'warm_start_epochs': '2'}}),
    'ike_plus (fifth session) without the test-time flip': fifth({'Network Module': {'test_time_flip': 'false'}}),
    'ike_plus (fifth session) without the flip in warm-started networks': fifth({'Network Module': {
        'warm_start_test_time_flip': 'false'}}),
    'ike_plus without the flip in warm-started networks': ('ike_plus.ini', {'Network Module': {
        'warm_start_test_time_flip': 'false'}}),
    'ike_plus in fp32': ('ike_plus.ini', {'Network Module': {'precision': 'fp32'}}),
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


def run_loop(config: Path, frames: Path, out: Path, quiet: bool, seed: int) -> float:
    began = time.perf_counter()
    command = [sys.executable, str(ROOT / 'run_ike.py'), '--frames_path', str(frames), '--out_path', str(out),
               '--config', str(config), '--flow_method', 'dis', '--seed', str(seed), '--cycles', str(CYCLES),
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


def stage_labels():
    return [f'{s} {c}' for c in range(1, CYCLES + 1) for s in (('graph', 'network') if c < CYCLES else ('graph',))]


def mean_scores(table, names):
    """{(variant, dataset): {stage: (mean J, mean F)}}"""
    means = {}
    for name in names:
        for dataset in DATASETS:
            stages = table[(name, dataset)]
            means[(name, dataset)] = {label: tuple(float(np.mean([p[i] for p in stages[label]])) for i in (0, 1))
                                      for label in stage_labels()}
    return means


def plot_by_stage(means, names, path):
    """One panel per dataset and measure: the mean over videos against the stage, a line per variant."""
    labels = stage_labels()
    figure = Figure(figsize=(13, 7.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(DATASETS), squeeze=False)
    for column, dataset in enumerate(DATASETS):
        for row, measure in enumerate('JF'):
            axis = axes[row][column]
            for name in names:
                axis.plot(range(len(labels)), [means[(name, dataset)][label][row] for label in labels], marker='o',
                          linewidth=2.5 if name in (names[0], names[-1]) else 1, label=name)
            axis.set_xticks(range(len(labels)), labels, fontsize=8)
            axis.set_title(f'{dataset}: {measure} mean')
            axis.grid(alpha=0.3)
    axes[0][-1].legend(loc='center left', bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path, format='png')
    print(f'wrote {path}')


def results_figure(out_root, first, last, path, tile_width=280):
    """Per video, its middle frame: the truth outlined, then the final masks of two variants."""
    rows = []
    for dataset, videos in DATASETS.items():
        for video, frames, annotations in videos:
            files = list_frames(frames)
            index = len(files) // 2
            frame = read_frame_bgr(files[index])
            height, width = frame.shape[:2]
            truth = read_mask(annotations / ('%05d.png' % index), height, width) > 0
            contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            tiles = [(cv2.drawContours(frame.copy(), contours, -1, (0, 255, 0), 3), f'{video}, truth')]
            for name in (first, last):
                mask = read_mask(out_root / slug(name) / video / 'final' / 'masks' / ('%05d.png' % index), height, width)
                tiles.append((overlay_mask(frame, mask), name))
            tile_height = round(height * tile_width / width)
            row = []
            for tile, text in tiles:
                tile = cv2.resize(tile, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
                label_tile(tile, text)
                row.append(tile)
            rows.append(np.concatenate(row, axis=1))
    write_image(path, np.concatenate(rows, axis=0))
    print(f'wrote {path}')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out_path', default='runs/ablation', help='runs go to OUT/<variant>/<video>')
    parser.add_argument('--variants', help='comma-separated variant names (default: all): ' + '; '.join(VARIANTS))
    parser.add_argument('--jobs', type=int, default=1, help='loops run at once (one thread each)')
    parser.add_argument('--seed', type=int, default=0, help="the networks' seed (use another OUT per seed)")
    parser.add_argument('--quiet', action='store_true', help='no run_ike.py output')
    parser.add_argument('--score_only', action='store_true', help='score the runs already in OUT, run nothing')
    parser.add_argument('--per_video', action='store_true', help='also print every video\'s J per stage')
    parser.add_argument('--plot', help='PNG of the mean J and F per stage, one line per variant')
    parser.add_argument('--figure', help='JPEG: one frame per video, final masks of the first and last variant')
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
    if args.score_only:
        seconds = [float('nan')] * len(work)
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            seconds = list(pool.map(lambda w: run_loop(w[3], w[4], w[6], args.quiet, args.seed), work))

    table = {}
    labels = stage_labels()
    for (name, dataset, video, _, _, annotations, out), took in zip(work, seconds):
        for label, folder in stage_folders(out):
            scores = evaluate_sequence(folder, annotations, threshold=0.5, name=video)
            table.setdefault((name, dataset), {}).setdefault(label, []).append((scores.J_mean, scores.F_mean))
        table[(name, dataset)].setdefault('seconds', []).append(took)
        if args.per_video:
            print(f'{name}, {video}: J ' + ' / '.join(f'{table[(name, dataset)][label][-1][0]:.3f}' for label in labels))
    means = mean_scores(table, names)
    for dataset in DATASETS:
        print(f'\n{dataset}: mean J (F) per stage\n')
        print('| variant | ' + ' | '.join(labels) + ' | s per video |')
        print('| --- |' + ' ---: |' * (len(labels) + 1))
        for name in names:
            cells = [f'{j:.3f} ({f:.3f})' for j, f in (means[(name, dataset)][label] for label in labels)]
            took = table[(name, dataset)]['seconds']
            print(f'| {name} | ' + ' | '.join(cells) + f' | {sum(took) / len(took):.0f} |')
    if args.plot:
        plot_by_stage(means, names, args.plot)
    if args.figure:
        results_figure(out_root, names[0], names[-1], args.figure)


if __name__ == '__main__':
    main()
