"""Time and accuracy (J) of the network module on the DAVIS-2016 dev videos.

For each video: train with the given config on pseudo labels, time the whole run (run_network: load,
train, predict, write), and compare the last saved epoch's masks (soft map resized bilinearly to the
frame size, >= 0.5) with the ground truth: J = IoU, mean over the frames. The J of the pseudo labels
themselves is printed too (what the network learned from).

Pseudo labels: the graph module's output (--pseudo_template, e.g.
'/work/devdata/graph/{video}/{h}x{w}/iter_19'; resized bilinearly when its size is not the working
size), or, for development before the graph module exists, ground-truth masks made soft and wrong
on purpose (--pseudo_from_gt: shifted, eroded or dilated, blurred, with a false blob and noise).

    flock /work/cpu.lock python benchmarks/eval_network_dev.py --config configs/cpu.ini --pseudo_from_gt
    flock /work/cpu.lock python benchmarks/eval_network_dev.py --config configs/cpu.ini --timing_frames 70
"""
import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ike_utils.config import load_config  # noqa: E402
from ike_utils.frames import list_frames  # noqa: E402
from ike_utils.images import resize_map  # noqa: E402
from network_module.settings import NetworkSettings  # noqa: E402
from network_module.train import run_network  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / 'shared' / 'data' / 'davis2016-dev'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='config.ini')
    parser.add_argument('--data', default=str(DEFAULT_DATA), help='DAVIS layout: JPEGImages/480p, Annotations/480p')
    parser.add_argument('--videos', nargs='*', help='default: every video of --data')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--pseudo_template', help='folder of a video\'s pseudo labels; {video}, {h}, {w} are filled in')
    source.add_argument('--pseudo_from_gt', action='store_true', help='corrupted ground truth (development only)')
    parser.add_argument('--out', default='/tmp/ike_eval_network')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'auto'], help='override the config')
    parser.add_argument('--channels_last', choices=['true', 'false'], help='override the config')
    parser.add_argument('--timing_frames', type=int,
                        help='only time one run on a clip of this many frames (the first video played forward '
                             'and backward); no J')
    parser.add_argument('--quiet', action='store_true')
    return parser.parse_args()


def corrupted_pseudo_label(gt: np.ndarray, height: int, width: int, rng) -> np.ndarray:
    """A soft, imprecise mask at working size made from a ground-truth mask (development stand-in for
    the graph module's output)."""
    mask = cv2.resize(gt.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    shift = np.float32([[1, 0, rng.integers(-width // 40, width // 40 + 1)],
                        [0, 1, rng.integers(-height // 40, height // 40 + 1)]])
    mask = cv2.warpAffine(mask, shift, (width, height))
    kernel = np.ones((2 * int(rng.integers(1, 4)) + 1,) * 2, np.uint8)
    mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    blob = np.zeros_like(mask)
    centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    cv2.ellipse(blob, centre, (width // 16, height // 12), 0, 0, 360, 0.6, -1)
    mask = np.maximum(mask, blob)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.02 * width)
    mask = mask + rng.normal(0, 0.05, mask.shape).astype(np.float32)
    mask -= mask.min()
    return mask / max(mask.max(), 1e-6)


def ground_truth(data: Path, video: str, n_frames: int):
    files = sorted((data / 'Annotations' / '480p' / video).glob('*.png'))[:n_frames]
    return [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) > 127 for f in files]


def jaccard(predicted: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(predicted, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, truth).sum() / union)


def mean_j(soft_maps, truths) -> float:
    scores = []
    for soft, truth in zip(soft_maps, truths):
        full = resize_map(soft, truth.shape[0], truth.shape[1]).numpy() >= 0.5
        scores.append(jaccard(full, truth))
    return float(np.mean(scores))


def prepare_pseudo_labels(args, video, settings, out: Path, truths):
    """The pseudo-label folder for this video at the working size (made or resized when needed)."""
    h, w = settings.working_h, settings.working_w
    target = out / 'pseudo' / f'{video}_{h}x{w}'
    if args.pseudo_from_gt:
        rng = np.random.default_rng(sum(map(ord, video)))  # repeatable per video
        target.mkdir(parents=True, exist_ok=True)
        for index, truth in enumerate(truths):
            torch.save(torch.from_numpy(corrupted_pseudo_label(truth, h, w, rng))[:, :, None],
                       target / ('%05d.pt' % index))
        return target
    source = Path(args.pseudo_template.format(video=video, h=h, w=w))
    first = torch.load(source / '00000.pt')
    if tuple(first.shape[:2]) == (h, w):
        return source
    print(f'{video}: pseudo labels are {first.shape[0]}x{first.shape[1]}, resized bilinearly to {h}x{w}')
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob('*.pt')):
        torch.save(resize_map(torch.load(path)[..., 0], h, w)[:, :, None].clamp(0, 1), target / path.name)
    return target


def ping_pong_clip(frames_dir: Path, pseudo_dir: Path, n_frames: int, out: Path):
    """A clip of n_frames frames: the video forward, then backward, ... (symlinks and copies)."""
    files = list_frames(frames_dir)
    order = list(range(len(files))) + list(range(len(files) - 2, 0, -1))
    frames_out, pseudo_out = out / 'frames', out / 'pseudo'
    shutil.rmtree(out, ignore_errors=True)
    frames_out.mkdir(parents=True)
    pseudo_out.mkdir()
    for index in range(n_frames):
        source = order[index % len(order)]
        (frames_out / ('%05d%s' % (index, files[source].suffix))).symlink_to(files[source].resolve())
        shutil.copy(pseudo_dir / ('%05d.pt' % source), pseudo_out / ('%05d.pt' % index))
    return frames_out, pseudo_out


def main():
    args = parse_args()
    if not args.pseudo_template and not args.pseudo_from_gt:
        sys.exit('give --pseudo_template (graph outputs) or --pseudo_from_gt')
    settings = NetworkSettings.from_config(load_config(args.config))
    if args.precision:
        settings = replace(settings, precision=args.precision)
    if args.channels_last:
        settings = replace(settings, channels_last=args.channels_last == 'true')
    data, out = Path(args.data), Path(args.out)
    videos = args.videos or sorted(p.name for p in (data / 'JPEGImages' / '480p').iterdir())
    print(f'config {args.config}: {settings.working_h}x{settings.working_w}, base_channels {settings.base_channels}, '
          f'{settings.precision}, channels_last {settings.channels_last}, {settings.n_epochs} epochs, seed {args.seed}, '
          f'pseudo labels: {"corrupted ground truth" if args.pseudo_from_gt else args.pseudo_template}')
    rows = []
    for video in videos[:1] if args.timing_frames else videos:
        frames_dir = data / 'JPEGImages' / '480p' / video
        truths = ground_truth(data, video, len(list_frames(frames_dir)))
        pseudo_dir = prepare_pseudo_labels(args, video, settings, out, truths)
        run_out = out / 'runs' / f'{video}_{settings.working_h}x{settings.working_w}_b{settings.base_channels}'
        if args.timing_frames:
            frames_dir, pseudo_dir = ping_pong_clip(frames_dir, pseudo_dir, args.timing_frames, out / 'clip')
        shutil.rmtree(run_out, ignore_errors=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        folder = run_network(frames_dir, pseudo_dir, run_out, settings, 'cpu', seed=args.seed, quiet=args.quiet,
                             skip_if_done=False)[-1]
        seconds = time.perf_counter() - start
        busy = (time.process_time() - cpu_start) / seconds / torch.get_num_threads()
        if busy < 0.9:
            print(f'{video}: cpu use {100 * busy:.0f}% of {torch.get_num_threads()} threads: other work shared the '
                  f'CPU, the time is not reliable')
        n = len(list_frames(frames_dir))
        if args.timing_frames:
            print(f'{video} played as a {n}-frame clip: {seconds:.1f} s for the whole run')
            return
        predictions = [torch.load(folder / ('%05d.pt' % i))[..., 0] for i in range(n)]
        pseudo = [torch.load(pseudo_dir / ('%05d.pt' % i))[..., 0] for i in range(n)]
        rows.append((video, n, seconds, mean_j(pseudo, truths), mean_j(predictions, truths)))
        print(f'{video}: {n} frames, {seconds:.1f} s, J pseudo labels {rows[-1][3]:.3f}, J network {rows[-1][4]:.3f}',
              flush=True)
    print(f'mean over {len(rows)} videos: J pseudo labels {np.mean([r[3] for r in rows]):.3f}, '
          f'J network {np.mean([r[4] for r in rows]):.3f}, {np.mean([r[2] / r[1] for r in rows]):.2f} s per frame')


if __name__ == '__main__':
    main()
