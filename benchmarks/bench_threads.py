"""Whole commands with and without a competing job: how the thread settings hold up on a busy machine.

    python benchmarks/bench_threads.py                        # demo and one graph pass, alone and beside 1 busy process
    python benchmarks/bench_threads.py --competitors 0,1 --repeat 3
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
A competitor is a process spinning on one core (`while True: pass`) during the measurement.
Prints one line per measurement, then a table of medians.
"""
import argparse
import os
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


def command(work: str, scratch: Path, frames: Path, job: int) -> list:
    """The command of a measurement; copy `job` of several writes into its own folder."""
    if work == 'demo':
        return [PYTHON, str(ROOT / 'demo.py'), '--out_path', str(scratch / f'demo{job}'), '--device', 'cpu', '--quiet']
    return [PYTHON, str(ROOT / 'run_graph_module.py'), '--frames_path', str(frames), '--of_path',
            str(scratch / 'flow'), '--out_path', str(scratch / f'graph{job}'), '--device', 'cpu', '--quiet']


def timed(command_lines, env, timeout: float) -> float:
    """Seconds from the start of the commands, all at once, to the exit of the last; inf when they
    are still running after `timeout` seconds (they are stopped)."""
    started = time.perf_counter()
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
        return float('inf')
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work', default='graph,demo', help='comma-separated: graph, demo (default: both)')
    parser.add_argument('--modes', default='default,one,spin', help='comma-separated: default, one, spin')
    parser.add_argument('--competitors', default='0,1', help='comma-separated numbers of busy processes')
    parser.add_argument('--repeat', type=int, default=1, help='runs of each case (median shown)')
    parser.add_argument('--slurm_cpus', type=int, help='set SLURM_CPUS_PER_TASK for every command')
    parser.add_argument('--jobs', type=int, default=1, help='copies of each command run at once')
    parser.add_argument('--frames_path', type=Path, default=DEV / 'blackswan', help='video of the graph pass')
    parser.add_argument('--timeout', type=float, default=600,
                        help='seconds after which a measurement is stopped and shown as inf (default: 600)')
    args = parser.parse_args()
    print(f'{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} before the start')
    works, modes = args.work.split(','), args.modes.split(',')
    competitors = [int(n) for n in args.competitors.split(',')]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if 'graph' in works:
            subprocess.run([PYTHON, str(ROOT / 'extract_optical_flow.py'), '--frames_path', str(args.frames_path),
                            '--out_path', str(scratch / 'flow'), '--method', 'dis', '--quiet'], check=True,
                           stdout=subprocess.DEVNULL)
        for repeat in range(args.repeat):
            for count in competitors:
                for work in works:
                    for mode in modes:
                        load = os.getloadavg()[0]
                        busy = [subprocess.Popen([PYTHON, '-c', 'while True: pass']) for _ in range(count)]
                        try:
                            env, extra = mode_environment(mode, args.slurm_cpus)
                            seconds = timed([command(work, scratch, args.frames_path, job) + extra
                                             for job in range(args.jobs)], env, args.timeout)
                        finally:
                            for process in busy:
                                process.kill()
                                process.wait()
                        results.setdefault((work, mode, count), []).append(seconds)
                        print(f'{work:>5} {mode:>7} competitors {count}: {seconds:6.1f} s  '
                              f'(1-minute load {load:.2f} at the start)', flush=True)
    print('\nmedian seconds' + (f' ({args.jobs} jobs at once, SLURM_CPUS_PER_TASK={args.slurm_cpus})'
                                if args.jobs > 1 or args.slurm_cpus else ''))
    print('work   mode     ' + ''.join(f'{f"{n} competing":>14}' for n in competitors))
    for work in works:
        for mode in modes:
            print(f'{work:<6} {mode:<8} ' + ''.join(f'{statistics.median(results[work, mode, n]):>14.1f}'
                                                   for n in competitors))


if __name__ == '__main__':
    main()
