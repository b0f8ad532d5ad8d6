"""Speed of the flow stage on a real DAVIS video (854x480), end to end (decode, flow, .flo writes).

    flock /work/cpu.lock /work/venv/bin/python benchmarks/bench_flow.py [--raft_pairs 3] [--threads N]

Prints, per method, pairs per second (a pair = forward + backward flow), seconds per pair, CPU
seconds per pair and peak memory; for RAFT also torchvision's plain `model(image1, image2)` on the
same pairs (two calls per pair), the way the reference computed them, for comparison.
The random-weight fixture checkpoint is enough for timing (same architecture as raft-things.pth).
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ike_utils.frames import list_frames, read_frame_bgr  # noqa: E402
from optical_flow.classic import dis_flow_pair  # noqa: E402
from optical_flow.extract import extract_flows  # noqa: E402
from optical_flow.raft_flow import padding_for  # noqa: E402
from RAFT.checkpoint import load_raft  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FRAMES = ROOT.parent / 'shared' / 'data' / 'davis2016-dev' / 'JPEGImages' / '480p' / 'blackswan'
DEFAULT_CHECKPOINT = ROOT.parent / 'shared' / 'fixtures' / 'raft_reference' / 'raft-large-random.pth'


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def frames_subset(files, count, folder):
    """A folder holding links to the first `count` frames."""
    folder.mkdir()
    for path in files[:count]:
        os.symlink(path.resolve(), folder / path.name)
    return folder


def timed(function):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def report(name, pairs, wall, cpu):
    print(f'{name:<42} {pairs:3d} pairs  {pairs / wall:7.2f} pairs/s  {wall / pairs:8.3f} s/pair  '
          f'{cpu / pairs:8.3f} CPU s/pair  peak RSS {peak_rss_mb():7.0f} MB', flush=True)


def bench_dis(files, work):
    frames = [read_frame_bgr(path) for path in files]
    pairs = len(frames) - 1
    dis_flow_pair(frames[0], frames[1])  # warm-up
    _, wall, cpu = timed(lambda: [dis_flow_pair(a, b) for a, b in zip(frames[:-1], frames[1:])])
    report('DIS flow only (frames in memory)', pairs, wall, cpu)
    _, wall, cpu = timed(lambda: extract_flows(files[0].parent, work / 'dis', method='dis', quiet=True))
    report('DIS extract_flows (decode + flow + write)', pairs, wall, cpu)


def bench_raft(files, work, checkpoint, iters, raft_pairs):
    subset = frames_subset(files, raft_pairs + 1, work / 'raft_frames')
    extract_flows(subset, work / 'warmup', method='raft', checkpoint=checkpoint, iters=1,
                  device='cpu', quiet=True)  # warm-up (oneDNN kernel selection)
    _, wall, cpu = timed(lambda: extract_flows(subset, work / 'raft', method='raft', checkpoint=checkpoint,
                                               iters=iters, device='cpu', quiet=True))
    report(f'RAFT extract_flows (iters {iters})', raft_pairs, wall, cpu)

    model, variant = load_raft(checkpoint)
    frames = [read_frame_bgr(path) for path in files[:raft_pairs + 1]]
    pad = list(padding_for(*frames[0].shape[:2]))

    def reference_way():
        with torch.no_grad():
            for a, b in zip(frames[:-1], frames[1:]):
                images = torch.from_numpy(np.stack([a[:, :, ::-1], b[:, :, ::-1]])).permute(0, 3, 1, 2).float()
                images = 2 * (F.pad(images, pad, mode='replicate') / 255.0) - 1.0
                model(images[:1], images[1:], num_flow_updates=iters)
                model(images[1:], images[:1], num_flow_updates=iters)
    _, wall, cpu = timed(reference_way)
    report(f'torchvision RAFT-{variant} forward x2 (iters {iters})', raft_pairs, wall, cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', default=str(DEFAULT_FRAMES))
    parser.add_argument('--checkpoint', default=str(DEFAULT_CHECKPOINT))
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--raft_pairs', type=int, default=3, help='RAFT pairs to time (0 = skip RAFT)')
    parser.add_argument('--skip_dis', action='store_true')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0 = default: one per core)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = list_frames(args.frames, min_count=2)
    print(f'{args.frames}: {len(files)} frames of {read_frame_bgr(files[0]).shape[1::-1]}, '
          f'torch {torch.__version__} with {torch.get_num_threads()} threads, {os.cpu_count()} CPUs')
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_dis:
            bench_dis(files, work)
        if args.raft_pairs > 0:
            bench_raft(files, work, args.checkpoint, args.iters, args.raft_pairs)


if __name__ == '__main__':
    main()
