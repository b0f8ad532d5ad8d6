"""Speed and memory of the graph module on a real video.

    python benchmarks/bench_graph.py                      # blackswan, 50 frames, paper settings
    python benchmarks/bench_graph.py --n_frames 25,50,100 # scaling (frames repeated back and forth)
    python benchmarks/bench_graph.py --repeat 5           # the median of 5 runs (shared machines are noisy)
    python benchmarks/bench_graph.py --feature_cache_mib 1024  # node features kept once made (faster, more memory)
    python benchmarks/bench_graph.py --n_frames 25,50,100,300,900 --plot images/graph_scaling.png
                                                          # long videos: memory and time against frames

Each run is a fresh process, so its peak resident memory (VmHWM) is its own; the first column
of memory is what the process holds after importing PyTorch, before any work. Flows come from
--of_path, or are computed with OpenCV DIS (preset medium) into a cache folder first (not timed).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_FRAMES = ROOT.parent / 'shared' / 'data' / 'davis2016-dev' / 'JPEGImages' / '480p' / 'blackswan'


def peak_rss_mb():
    """This process's peak resident memory. VmHWM, not ru_maxrss: a child's ru_maxrss starts at the
    parent's resident size when it is forked, even after exec."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args):
    """One measured run, in this process; prints one JSON line."""
    import torch
    from graph_module.run import run_graph_module
    from graph_module.settings import GraphSettings
    from ike_utils.config import load_config
    from ike_utils.device import resolve_device
    baseline = peak_rss_mb()
    settings = GraphSettings.from_config(load_config(args.config))
    if args.iterations:
        settings = replace(settings, n_iterations=args.iterations, to_save_iterations=(-1, args.iterations - 1))
    if args.feature_cache_mib is not None:
        settings = replace(settings, feature_cache_mib=args.feature_cache_mib)
    if args.threads:
        torch.set_num_threads(args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        timings = run_graph_module(args.frames_path, args.of_path, out, settings,
                                   resolve_device(args.device), quiet=True)
    timings['wall'] = time.perf_counter() - start
    timings['cpu'] = time.process_time() - cpu_start
    timings['baseline_mb'] = baseline
    timings['peak_mb'] = peak_rss_mb()
    print(json.dumps(timings))


def ping_pong_frames(source: Path, n_frames: int, folder: Path):
    """A video of n_frames made of the source frames played forward, backward, forward..."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in ('.jpg', '.png'))
    order = files + files[-2:0:-1]
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n_frames):
        link = folder / ('%05d%s' % (index, files[0].suffix))
        if not link.exists():
            link.symlink_to(order[index % len(order)])
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames_path', default=str(DEFAULT_FRAMES))
    parser.add_argument('--of_path', default=None, help='precomputed flows (fwd_of/, bwd_of/) of these frames')
    parser.add_argument('--config', default=str(ROOT / 'config.ini'))
    parser.add_argument('--n_frames', default='', help='comma-separated video lengths (frames repeated back and forth)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0 = default)')
    parser.add_argument('--iterations', type=int, default=0,
                        help='power iterations instead of the config\'s (0 = the config\'s); the memory does not depend on it')
    parser.add_argument('--feature_cache_mib', type=int, default=None,
                        help='[Graph Module] feature_cache_mib instead of the config\'s')
    parser.add_argument('--plot', default=None, help='also draw peak memory and time per frame against frames (a .png)')
    parser.add_argument('--repeat', type=int, default=1,
                        help='runs per length; the run with the median wall time is reported (shared machines are noisy)')
    parser.add_argument('--cache', default=os.path.join(tempfile.gettempdir(), 'ike_bench_graph'))
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    from optical_flow.extract import extract_flows
    source = Path(args.frames_path)
    lengths = [int(n) for n in args.n_frames.split(',')] if args.n_frames else [None]
    print(f'graph module on {source.name}, config {args.config}, device {args.device}')
    header = ('frames', 'wall s', 'CPU s', 'load s', 'build s', 'setup s', 'iter s (mean)', 'save s',
              'ms per frame and iteration', 'torch baseline MiB', 'peak MiB', 'edges MiB', 'features MiB')
    rows = []
    for n in lengths:
        frames, of_path = source, args.of_path
        if n is not None:
            frames = ping_pong_frames(source, n, Path(args.cache) / f'{source.name}_{n}' / 'frames')
            of_path = None
        if of_path is None:
            of_path = Path(args.cache) / f'{source.name}_{n or "all"}' / 'flow'
            extract_flows(frames, of_path, method='dis', device='cpu', quiet=True)
        command = [sys.executable, __file__, '--worker', '--frames_path', str(frames), '--of_path', str(of_path),
                   '--config', args.config, '--device', args.device, '--threads', str(args.threads),
                   '--iterations', str(args.iterations)]
        if args.feature_cache_mib is not None:
            command += ['--feature_cache_mib', str(args.feature_cache_mib)]
        runs = [json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                for _ in range(args.repeat)]
        runs.sort(key=lambda run: run['wall'])
        result = runs[len(runs) // 2]
        if args.repeat > 1:
            print(f'  {n or "all"} frames: wall times ' + ' '.join(f'{run["wall"]:.2f}' for run in runs) + ' s')
        iterations = result['iterations']
        n_frames = len([p for p in Path(frames).iterdir()])
        mean_iteration = sum(iterations) / len(iterations)
        rows.append((n_frames, result['wall'], result['cpu'], result['load'], result['build'], result['regression_setup'],
                     mean_iteration, result['save'], 1000 * mean_iteration / n_frames, result['baseline_mb'],
                     result['peak_mb'], result['graph_index_bytes'] / 2 ** 20, result['feature_bytes'] / 2 ** 20))
        print(f'  {n_frames} frames: iterations ' + ' '.join(f'{t:.2f}' for t in iterations)
              + ' s; ' + json.dumps(dict(zip(header, rows[-1]))), flush=True)
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for row in rows:
        print('| ' + ' | '.join(f'{v:.2f}' if isinstance(v, float) else str(v) for v in row) + ' |')
    if args.plot:
        plot(rows, args.plot)


def plot(rows, path):
    """Peak memory and CPU time per frame against the number of frames (CPU time: on a shared
    machine wall times mostly measure the other processes)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    frames = [row[0] for row in rows]
    figure, (memory, time_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    memory.plot(frames, [row[10] / 1024 for row in rows], 'o-', label='peak (whole process)')
    memory.plot(frames, [row[9] / 1024 for row in rows], '--', color='grey', label='PyTorch after import')
    memory.set(xlabel='frames', ylabel='GiB', title='peak resident memory')
    memory.legend()
    time_axis.plot(frames, [1000 * row[2] / row[0] for row in rows], 'o-')
    time_axis.set(xlabel='frames', ylabel='ms per frame', title='CPU time per frame, whole run', ylim=(0, None))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f'plot written to {path}')


if __name__ == '__main__':
    main()
