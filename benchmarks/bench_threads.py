"""Whole commands with and without a competing job: how the thread settings hold up on a busy machine.

    python benchmarks/bench_threads.py --repeat 3             # demo and one graph pass, alone and beside 1 busy process
    python benchmarks/bench_threads.py --slurm_cpus 4 --jobs 4  # 4 such jobs at once, each told it has 4 CPUs

Each measurement is a fresh command (`demo.py`, or `run_graph_module.py` on blackswan's 50 frames at
the paper's settings with DIS flow computed once before), timed from start to exit, under three
settings of how threads wait:
  spin     what every command did before: GOMP_SPINCOUNT=300000 (libgomp's default when
           OMP_WAIT_POLICY is unset: a waiting thread spins before it sleeps), one thread per CPU
           of the machine (os.cpu_count())
  default  the commands' defaults now: waiting threads sleep (OMP_WAIT_POLICY=PASSIVE), threads
           from the CPUs the process may use (affinity, cgroup quota, SLURM_CPUS_PER_TASK)
  one      OMP_NUM_THREADS=1
A competitor is a process spinning on one core (`while True: pass`) during the measurement. Every
measurement writes into a new folder, so none is skipped as done before. Prints one line per
measurement (wall and CPU seconds), then a markdown table for the README: the median wall seconds
of each case and, with --repeat, every run's in brackets.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / 'shared' / 'data' / 'davis2016-dev' / 'JPEGImages' / '480p'
PYTHON = sys.executable


def mode_environment(mode: str, slurm_cpus=None) -> tuple:
    """(environment, extra command-line arguments) of a thread mode."""
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS')}
    if slurm_cpus:
        env['SLURM_CPUS_PER_TASK'] = str(slurm_cpus)
    if mode == 'spin':
        env['GOMP_SPINCOUNT'] = '300000'
        return env, ['--threads', str(os.cpu_count())]
    if mode == 'one':
        env['OMP_NUM_THREADS'] = '1'
        return env, []
    return env, []


WORK_NAMES = {'graph': 'graph pass', 'demo': 'demo'}
MODE_NAMES = {'default': 'default (yielding)', 'one': 'one', 'spin': 'spin (before)'}


def command(work: str, out: Path, frames: Path, flow: Path, config=None) -> list:
    """The command of a measurement, writing into `out` (a new folder, so that nothing is skipped)."""
    settings = ['--config', str(config)] if config else []
    if work == 'demo':
        return [PYTHON, str(ROOT / 'demo.py'), '--out_path', str(out), '--device', 'cpu', '--quiet', *settings]
    return [PYTHON, str(ROOT / 'run_graph_module.py'), '--frames_path', str(frames), '--of_path', str(flow),
            '--out_path', str(out), '--device', 'cpu', '--quiet', *settings]


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command_lines, env, timeout: float) -> tuple:
    """(wall seconds from the start of the commands, all at once, to the exit of the last; their
    CPU seconds); (inf, inf) when they are still running after `timeout` seconds (they are stopped)."""
    started, cpu = time.perf_counter(), children_cpu_seconds()
    processes = [subprocess.Popen(line, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for line in command_lines]
    try:
        for line, process in zip(command_lines, processes):
            _, error = process.communicate(timeout=max(1.0, timeout - (time.perf_counter() - started)))
            if process.returncode:
                raise SystemExit(f'{" ".join(line)} failed: {error.strip().splitlines()[-1:]}')
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        return float('inf'), float('inf')
    return time.perf_counter() - started, children_cpu_seconds() - cpu


def cell(runs: list, timeout: float) -> str:
    """One case's table entry: the median and, for several runs, every run in the order run ('over T'
    for a run stopped after `timeout` seconds)."""
    def seconds(value):
        return f'over {timeout:.0f}' if value == float('inf') else f'{value:.1f}'
    median = seconds(statistics.median(runs))
    return median if len(runs) == 1 else f'{median} ({", ".join(seconds(value) for value in runs)})'


def markdown_table(results: dict, works, modes, competitors, timeout: float) -> list:
    """The README's table: a row per command and thread mode, a column per number of competitors."""
    names = ['alone' if n == 0 else f'beside {n} busy process{"es" * (n > 1)}' for n in competitors]
    lines = ['| command | threads | ' + ' | '.join(names) + ' |', '| --- | --- |' + ' ---: |' * len(names)]
    for work in works:
        for mode in modes:
            cells = [cell(results[work, mode, n], timeout) for n in competitors]
            lines.append(f'| {WORK_NAMES[work]} | {MODE_NAMES[mode]} | ' + ' | '.join(cells) + ' |')
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work', default='graph,demo', help='comma-separated: graph, demo (default: both)')
    parser.add_argument('--modes', default='default,one,spin', help='comma-separated: default, one, spin')
    parser.add_argument('--competitors', default='0,1', help='comma-separated numbers of busy processes')
    parser.add_argument('--repeat', type=int, default=1, help='runs of each case (median shown)')
    parser.add_argument('--slurm_cpus', type=int, help='set SLURM_CPUS_PER_TASK for every command')
    parser.add_argument('--jobs', type=int, default=1, help='copies of each command run at once')
    parser.add_argument('--frames_path', type=Path, default=DEV / 'blackswan', help='video of the graph pass')
    parser.add_argument('--config', type=Path,
                        help="settings of every command (default: each command's own: config.ini, configs/demo.ini)")
    parser.add_argument('--timeout', type=float, default=600,
                        help='seconds after which a measurement is stopped, shown as "over T" (default: 600)')
    args = parser.parse_args()
    print(f'{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} before the start')
    works, modes = args.work.split(','), args.modes.split(',')
    competitors = [int(n) for n in args.competitors.split(',')]
    unknown = sorted(set(works) - set(WORK_NAMES)) + sorted(set(modes) - set(MODE_NAMES))
    if unknown:
        raise SystemExit(f'error: unknown --work or --modes entry {unknown[0]!r}; works: graph, demo; '
                         'modes: default, one, spin')
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        flow = scratch / 'flow'
        if 'graph' in works:
            subprocess.run([PYTHON, str(ROOT / 'extract_optical_flow.py'), '--frames_path', str(args.frames_path),
                            '--out_path', str(flow), '--method', 'dis', '--quiet'], check=True,
                           stdout=subprocess.DEVNULL)
        for repeat in range(args.repeat):
            for count in competitors:
                for work in works:
                    for mode in modes:
                        load = os.getloadavg()[0]
                        out = scratch / f'{work}-{mode}-{count}-{repeat}'
                        busy = [subprocess.Popen([PYTHON, '-c', 'while True: pass']) for _ in range(count)]
                        try:
                            env, extra = mode_environment(mode, args.slurm_cpus)
                            lines = [command(work, out / f'job{job}', args.frames_path, flow, args.config) + extra
                                     for job in range(args.jobs)]
                            seconds, cpu = timed(lines, env, args.timeout)
                        finally:
                            for process in busy:
                                process.kill()
                                process.wait()
                            shutil.rmtree(out, ignore_errors=True)
                        results.setdefault((work, mode, count), []).append(seconds)
                        print(f'{work:>5} {mode:>7} competitors {count}: {seconds:6.1f} s wall, {cpu:6.1f} s CPU  '
                              f'(1-minute load {load:.2f} at the start)', flush=True)
    print('\nwall seconds, median' + (' (every run in brackets)' if args.repeat > 1 else '')
          + f'; over {args.timeout:.0f}: stopped at --timeout'
          + (f'; {args.jobs} jobs at once' if args.jobs > 1 else '')
          + (f'; SLURM_CPUS_PER_TASK={args.slurm_cpus}' if args.slurm_cpus else '') + '\n')
    print('\n'.join(markdown_table(results, works, modes, competitors, args.timeout)))


if __name__ == '__main__':
    main()
