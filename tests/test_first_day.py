"""A newcomer's first commands: thread counts, RAFT weights checked first, project files found from
any folder, results printed whatever --quiet, evaluate.py on run folders, reports that say what
made them, seeded runs, and logs that read well when piped to a file."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.davis import evaluate_sequence
from evaluation.report import label_tile, sequence_colours
from ike_utils import threads
from ike_utils.config import load_config
from ike_utils.repo import REPO_ROOT, project_path
from test_pipeline import make_dataset, tiny_config

ENV = {k: v for k, v in os.environ.items() if k not in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')}
ENV['OMP_NUM_THREADS'] = '1'


def run(script, *args, cwd, env=ENV):
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope='module')
def dataset_run(tmp_path_factory):
    """A dataset run of one tiny video (2 cycles, DIS flow), output piped as into a log file."""
    folder = tmp_path_factory.mktemp('first_day')
    root = make_dataset(folder / 'davis', names=('alpha',))
    config = tiny_config(folder / 'tiny.ini')
    result = run('run_ike.py', '--dataset_root', root, '--out_path', folder / 'out', '--config', config,
                 '--flow_method', 'dis', '--cycles', '2', '--device', 'cpu', cwd=folder)
    assert result.returncode == 0, result.stderr
    return {'root': root, 'config': config, 'out': folder / 'out', 'log': result.stdout + result.stderr,
            'stdout': result.stdout, 'folder': folder}


# -- 1. threads ----------------------------------------------------------------------------------------
def test_thread_count_follows_slurm_cgroup_and_workers(monkeypatch, tmp_path):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(threads, 'CGROUP_V2_QUOTA', tmp_path / 'cpu.max')
    (tmp_path / 'cpu.max').write_text('max 100000\n')
    monkeypatch.setenv('SLURM_CPUS_PER_TASK', '1')
    assert threads.available_cpus() == 1
    monkeypatch.delenv('SLURM_CPUS_PER_TASK')
    (tmp_path / 'cpu.max').write_text('150000 100000\n')  # 1.5 CPUs of quota: 2 threads
    assert threads.available_cpus() == min(2, len(os.sched_getaffinity(0)))
    assert threads.threads_per_worker(2, total=8) == 4
    assert threads.threads_per_worker(3, total=2) == 1
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert threads.threads_per_worker(1, total=None) == 1


def test_waiting_threads_yield_before_torch_loads_and_bad_thread_count(tmp_path):
    probe = run('demo.py', '--threads', '0', cwd=tmp_path)
    assert probe.returncode == 2 and probe.stderr.startswith('error: --threads 0')
    code = ('import ike_utils.cli, os, torch; '
            'print(os.environ["OMP_WAIT_POLICY"], "torch" in __import__("sys").modules)')
    shown = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO_ROOT, env=ENV)
    assert shown.stdout.split() == ['PASSIVE', 'True']
    kept = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=dict(ENV, OMP_WAIT_POLICY='ACTIVE'))
    assert kept.stdout.split()[0] == 'ACTIVE'


def test_thread_benchmark_runs_both_cases_in_one_invocation_and_prints_the_readme_table(tmp_path):
    video = make_dataset(tmp_path / 'davis', names=('alpha',)) / 'JPEGImages' / '480p' / 'alpha'
    result = run('benchmarks/bench_threads.py', '--work', 'graph', '--modes', 'one', '--competitors', '0,1',
                 '--frames_path', video, '--config', tiny_config(tmp_path / 'tiny.ini'), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    walls = re.findall(r'graph +one competitors \d: +([\d.]+) s wall, +[\d.]+ s CPU', result.stdout)
    table = result.stdout.rstrip().split('\n\n')[-1].splitlines()
    assert len(walls) == 2 and table == ['| command | threads | alone | beside 1 busy process |',
                                         '| --- | --- | ---: | ---: |',
                                         f'| graph pass | one | {walls[0]} | {walls[1]} |'], result.stdout


def test_thread_benchmark_table_gives_the_median_and_every_run():
    spec = importlib.util.spec_from_file_location('bench_threads', REPO_ROOT / 'benchmarks' / 'bench_threads.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = {('demo', 'spin', 0): [30.0, 10.0, 20.04], ('demo', 'spin', 2): [float('inf'), 5.0, float('inf')]}
    assert bench.markdown_table(results, ['demo'], ['spin'], [0, 2], timeout=300)[2] == (
        '| demo | spin (before) | 20.0 (30.0, 10.0, 20.0) | over 300 (over 300, 5.0, over 300) |')


# -- 2. RAFT weights are checked before any work -------------------------------------------------------
@pytest.mark.parametrize('mode', ['dataset', 'video'])
def test_missing_raft_weights_stop_run_ike_before_any_work(tmp_path, mode):
    root = make_dataset(tmp_path / 'davis', names=('alpha',))
    source = (['--dataset_root', root] if mode == 'dataset'
              else ['--frames_path', root / 'JPEGImages' / '480p' / 'alpha'])
    result = run('run_ike.py', *source, '--out_path', tmp_path / 'new', '--models', tmp_path / 'none.pth',
                 '--config', tiny_config(tmp_path / 'tiny.ini'), '--device', 'cpu', cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'RAFT checkpoint' in lines[0] and 'none.pth' in lines[0]
    assert '--flow_method dis' in lines[0] and '--method dis' not in lines[0]
    assert 'videos' not in result.stdout and not (tmp_path / 'new').exists()


def test_extract_optical_flow_names_its_own_flag(tmp_path):
    root = make_dataset(tmp_path / 'davis', names=('alpha',))
    result = run('extract_optical_flow.py', '--frames_path', root / 'JPEGImages' / '480p' / 'alpha',
                 '--out_path', tmp_path / 'flow', '--models', tmp_path / 'none.pth', cwd=tmp_path)
    assert result.returncode == 2 and '--method dis' in result.stderr


# -- 3. the project's files are found from any folder --------------------------------------------------
def test_project_files_resolve_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_path('configs/cpu.ini') == REPO_ROOT / 'configs' / 'cpu.ini'
    assert load_config('configs/demo.ini').source == str(REPO_ROOT / 'configs' / 'demo.ini')
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'cpu.ini').write_text('[General]\n')
    assert project_path('configs/cpu.ini') == Path('configs/cpu.ini')  # a file of the working folder wins
    help_text = run('run_ike.py', '--help', cwd=tmp_path).stdout
    assert '(default: raft)' in help_text and 'config.ini of the repository' in help_text


def test_demo_runs_from_the_parent_folder(tmp_path):
    result = run('demo.py', '--out_path', tmp_path / 'demo', '--frames', '8', '--cycles', '1', '--device', 'cpu',
                 '--quiet', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'J = ' in result.stdout.strip().splitlines()[-1]


# -- 4, 8. what a run prints ---------------------------------------------------------------------------
def test_piped_log_has_one_line_per_stage_and_no_bars(dataset_run):
    log = dataset_run['log']
    assert '\r' not in log and '\x1b' not in log
    stamp = r'^\d\d:\d\d:\d\d '
    for line in ('alpha: flow \\(dis\\): started', 'alpha: flow \\(dis\\): done in [\\d.]+ s, 5 pair\\(s\\) computed',
                 'alpha: cycle 1 graph: started', 'graph set-up: regression ready', 'alpha: cycle 1 graph: done in',
                 'alpha: cycle 1 network: started', 'network: epoch 2/2, mean loss', 'alpha: cycle 2 graph: done in',
                 'video 1/1 alpha: finished'):
        assert re.search(stamp + line, log, re.MULTILINE), line
    lines = dataset_run['stdout'].strip().splitlines()
    assert lines[-1] == f'report: {dataset_run["out"] / "report" / "report.md"}'
    assert re.match(r'\| graph 2 \| \d\.\d{3} \| \d\.\d{3} \|', lines[-2])  # the paper's table, last stage


def test_quiet_rerun_skips_every_stage_and_still_prints_results(dataset_run):
    out, root = dataset_run['out'], dataset_run['root']
    timings = json.loads((out / 'alpha' / 'timings.json').read_text())
    common = ['--frames_path', root / 'JPEGImages' / '480p' / 'alpha', '--out_path', out / 'alpha',
              '--config', dataset_run['config'], '--flow_method', 'dis', '--cycles', '2', '--device', 'cpu',
              '--annotations', root / 'Annotations' / '480p' / 'alpha']
    loud = run('run_ike.py', *common, cwd=dataset_run['folder'])
    assert loud.returncode == 0, loud.stderr
    for stage in ('cycle 1 graph', 'cycle 1 network', 'cycle 2 graph'):
        assert f'alpha: {stage}: skipped' in loud.stdout
    assert json.loads((out / 'alpha' / 'timings.json').read_text()) == timings  # not overwritten with ~0 s
    quiet = run('run_ike.py', *common, '--quiet', cwd=dataset_run['folder'])
    assert quiet.returncode == 0 and quiet.stderr == ''
    lines = quiet.stdout.strip().splitlines()
    assert str(out / 'alpha' / 'scores.json') in lines[0]
    assert [line.split(':')[0].strip() for line in lines[1:4]] == ['graph 1', 'network 1', 'graph 2']
    assert lines[-1] == f'final masks: {out / "alpha" / "final" / "masks"}'


# -- 5. evaluate.py takes a run folder ----------------------------------------------------------------
def test_evaluate_reads_run_folders_by_stage(dataset_run):
    out, annotations = dataset_run['out'], dataset_run['root'] / 'Annotations' / '480p'
    scores = json.loads((out / 'alpha' / 'scores.json').read_text())
    for results, stage, label, gt in ((out, 'final', 'graph 2', annotations),
                                      (out / 'alpha', 'graph1', 'graph 1', annotations / 'alpha'),
                                      (out, 'network1', 'network 1', annotations)):
        result = run('evaluate.py', '--results', results, '--annotations', gt, '--stage', stage,
                     '--json', out.parent / 'e.json', cwd=dataset_run['folder'])
        assert result.returncode == 0, result.stderr
        evaluated = json.loads((out.parent / 'e.json').read_text())['sequences'][0]
        assert evaluated['J_mean'] == pytest.approx(scores[label]['J_mean'])
    bad = run('evaluate.py', '--results', out, '--annotations', annotations, '--stage', 'graph7',
              cwd=dataset_run['folder'])
    assert bad.returncode == 2 and 'graph7' in bad.stderr


# -- 6. reports say what made them, score the delivered masks ------------------------------------------
def test_report_records_settings_and_scores_the_final_masks(dataset_run):
    out, root = dataset_run['out'], dataset_run['root']
    report = (out / 'report' / 'report.md').read_text()
    assert re.search(r'config tiny\.ini \(sha256 [0-9a-f]{12}\), flow dis, 2 cycles, seed 0, 1 thread, '
                     r'threshold 0\.5, code \S+', report)
    record = json.loads((out / 'alpha' / 'run.json').read_text())
    assert record['seed'] == 0 and record['threads'] == 1 and record['flow_method'] == 'dis' and record['code_version']
    final = evaluate_sequence(out / 'alpha' / 'final' / 'masks', root / 'Annotations' / '480p' / 'alpha')
    scores = json.loads((out / 'alpha' / 'scores.json').read_text())
    assert scores['graph 2']['J_mean'] == pytest.approx(final.J_mean)
    sheet = cv2.imread(str(out / 'report' / 'contact_sheets' / 'alpha.jpg'))
    green = (sheet[..., 1] > 180) & (sheet[..., 0] < 90) & (sheet[..., 2] < 90)
    assert green.sum() > 20  # the ground truth's outline


# -- 7. seeded by default -----------------------------------------------------------------------------
def test_seed_is_recorded_and_changes_the_network(dataset_run):
    out, root = dataset_run['out'], dataset_run['root']
    done = json.loads((out / 'alpha' / 'cycle_1' / 'network' / 'stage.json').read_text())
    assert done['settings']['seed'] == 0
    import torch
    before = torch.load(out / 'alpha' / 'cycle_1' / 'network' / 'results_pt' / 'epoch_00002' / '00003.pt')
    other = dataset_run['folder'] / 'seed1'
    result = run('run_ike.py', '--frames_path', root / 'JPEGImages' / '480p' / 'alpha', '--out_path', other,
                 '--config', dataset_run['config'], '--flow_method', 'dis', '--cycles', '2', '--device', 'cpu',
                 '--seed', '1', '--quiet', cwd=dataset_run['folder'])
    assert result.returncode == 0, result.stderr
    assert json.loads((other / 'run.json').read_text())['seed'] == 1
    after = torch.load(other / 'cycle_1' / 'network' / 'results_pt' / 'epoch_00002' / '00003.pt')
    assert not torch.equal(before, after)


def test_seed_spread_gives_every_seed_and_the_mean_and_range(dataset_run):
    other = dataset_run['folder'] / 'dataset_seed1'
    result = run('run_ike.py', '--dataset_root', dataset_run['root'], '--out_path', other, '--config',
                 dataset_run['config'], '--flow_method', 'dis', '--cycles', '2', '--device', 'cpu', '--seed', '1',
                 '--quiet', cwd=dataset_run['folder'])
    assert result.returncode == 0, result.stderr
    shown = run('benchmarks/seed_spread.py', other, dataset_run['out'], cwd=dataset_run['folder'])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    scores = [json.loads((folder / 'alpha' / 'scores.json').read_text()) for folder in (dataset_run['out'], other)]
    stages = list(scores[0])
    assert lines[2] == '| seed | J mean (F mean) | ' + ' | '.join(stages) + ' |'
    for seed in (0, 1):
        cells = [f"{scores[seed][stage]['J_mean']:.3f} ({scores[seed][stage]['F_mean']:.3f})" for stage in stages]
        assert f'| {seed} | alpha | ' + ' | '.join(cells) + ' |' in lines
    j_network = sorted(record['network 1']['J_mean'] for record in scores)
    assert f'{j_network[0]:.3f}' != f'{j_network[1]:.3f}'
    row = next(line for line in lines if line.startswith('| mean, J |')).strip(' |').split(' | ')
    assert row[2] == f'{sum(j_network) / 2:.3f} ({j_network[0]:.3f} to {j_network[1]:.3f})'
    assert row[1] == f"{scores[0]['graph 1']['J_mean']:.3f}"  # the first graph pass does not depend on the seed
    same = run('benchmarks/seed_spread.py', dataset_run['out'], dataset_run['out'], cwd=dataset_run['folder'])
    assert same.returncode == 2 and 'same seed' in same.stderr


# -- 9. the smaller points -----------------------------------------------------------------------------
def test_twenty_videos_get_twenty_colours_and_labels_are_boxed():
    assert len(set(sequence_colours(20))) == 20
    tile = np.full((60, 200, 3), 250, np.uint8)  # a light tile
    label_tile(tile, 'graph, cycle 1')
    box = tile[:20, :100].astype(int)
    assert (box.sum(axis=2) < 300).mean() > 0.5 and (tile[:20, :100] > 240).all(axis=2).any()


def test_readme_figure_has_280_pixel_tiles_and_leaves_the_readme_picture_alone(dataset_run):
    tracked = (REPO_ROOT / 'images' / 'dev_results.jpg').read_bytes()
    result = run('tools/readme_figure.py', '--dataset_root', dataset_run['root'], '--run', dataset_run['out'],
                 cwd=dataset_run['folder'])
    assert result.returncode == 0, result.stderr
    figure = cv2.imread(str(dataset_run['out'] / 'readme_figure.jpg'))
    frame = cv2.imread(str(next((dataset_run['root'] / 'JPEGImages' / '480p' / 'alpha').iterdir())))
    assert figure.shape == (round(frame.shape[0] * 280 / frame.shape[1]), 4 * 280, 3)  # one video, four tiles
    assert (REPO_ROOT / 'images' / 'dev_results.jpg').read_bytes() == tracked


def test_every_option_has_help(tmp_path):
    scripts = ('run_ike.py', 'demo.py', 'evaluate.py', 'extract_optical_flow.py', 'main.py',
               'run_graph_module.py', 'tools/readme_figure.py')
    with ThreadPoolExecutor(len(scripts)) as pool:  # each spends its time importing PyTorch
        helps = list(pool.map(lambda script: run(script, '--help', cwd=tmp_path).stdout, scripts))
    for script, help_text in zip(scripts, helps):
        section = help_text.split('options:')[1]
        entries = re.split(r'\n(?=  -)', section.strip('\n'))
        assert len(entries) > 2, script
        for entry in entries:
            parts = re.split(r' {2,}|\n', entry.strip(), maxsplit=1)
            assert len(parts) == 2 and parts[1].strip(), (script, entry)
