"""Speed of the network module: seconds per training step and per predicted frame, peak memory.

Runs the module's own training step and prediction (network_module.train) on random frames, so the
figures are those of a real run. Examples (run under the shared CPU lock on a shared machine):

    flock /work/cpu.lock python benchmarks/bench_network.py                       # paper, fp32
    flock /work/cpu.lock python benchmarks/bench_network.py --precision bf16 --channels_last
    flock /work/cpu.lock python benchmarks/bench_network.py --config configs/cpu.ini
"""
import argparse
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ike_utils.config import load_config  # noqa: E402
from ike_utils.device import resolve_device  # noqa: E402
from network_module.settings import NetworkSettings  # noqa: E402
from network_module.train import build_model, predict, targets, train_epoch  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='take every setting from this config (flags below override it)')
    parser.add_argument('--height', type=int)
    parser.add_argument('--width', type=int)
    parser.add_argument('--base_channels', type=int)
    parser.add_argument('--batch_size', type=int)
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'auto'])
    parser.add_argument('--channels_last', action='store_true', default=None)
    parser.add_argument('--steps', type=int, default=3, help='timed training steps (after one warm-up step)')
    parser.add_argument('--predict_frames', type=int, default=6, help='frames predicted for the timing (0 = skip)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (default: torch\'s choice)')
    parser.add_argument('--device', default='cpu', choices=['auto', 'cpu', 'cuda'])
    return parser.parse_args()


def main():
    args = parse_args()
    settings = NetworkSettings.from_config(load_config(args.config)) if args.config else NetworkSettings()
    overrides = {'working_h': args.height, 'working_w': args.width, 'base_channels': args.base_channels,
                 'batch_size': args.batch_size, 'precision': args.precision, 'channels_last': args.channels_last}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    settings = replace(settings, min_epoch_steps=0)  # an "epoch" of the one batch below is one step
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    settings = settings.for_device(device)
    torch.manual_seed(0)

    n = settings.batch_size
    frames = torch.rand(n, 3, settings.working_h, settings.working_w)
    soft = torch.rand(n, settings.working_h, settings.working_w)
    hard, soft, valid = targets(soft, settings)
    model = build_model(settings, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    generator = torch.Generator().manual_seed(0)
    frames, hard, soft = frames.to(device), hard.to(device), soft.to(device)

    def timed(fn):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def step():
        return train_epoch(model, optimizer, frames, hard, soft, valid, settings, generator, device)

    cpu_start, wall_start = time.process_time(), time.perf_counter()
    warmup = timed(step)
    times = [timed(step) for _ in range(args.steps)]
    print(f'settings: {settings.working_h}x{settings.working_w}, base_channels {settings.base_channels}, '
          f'batch {settings.batch_size}, {settings.precision}, channels_last {settings.channels_last}, '
          f'{torch.get_num_threads()} threads, {device}')
    print(f'train step: median {statistics.median(times):.3f} s, min {min(times):.3f} s '
          f'(steps: {", ".join(f"{t:.3f}" for t in times)}; warm-up {warmup:.3f} s)')
    if args.predict_frames:
        many = frames[:1].expand(args.predict_frames, -1, -1, -1).contiguous()
        predict(model, many[:settings.batch_size], settings, device)  # warm-up
        seconds = timed(lambda: predict(model, many, settings, device))
        print(f'predict: {seconds / args.predict_frames:.3f} s per frame')
    busy = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start) / torch.get_num_threads()
    print(f'cpu use: {100 * busy:.0f}% of {torch.get_num_threads()} threads'
          + (' (other work shared the CPU: these times are not reliable)' if busy < 0.9 else ''))
    print(f'peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process RSS)'
          + (f', {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB CUDA' if device.type == 'cuda' else ''))


if __name__ == '__main__':
    main()
