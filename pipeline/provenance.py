"""What made a run: OUT/run.json beside a video's outputs, and its one-line summary for reports."""
import hashlib
import json
from pathlib import Path

from ike_utils.atomic import atomic_file
from ike_utils.repo import code_version

RUN_RECORD_NAME = 'run.json'


def run_record(config, options) -> dict:
    """The config (path and content hash), flow method, cycles, seed, CPU threads (a seeded CPU run
    repeats only with as many), threshold and code version."""
    import torch
    config_path = Path(config.source).resolve()
    record = {'config': str(config_path),
              'config_sha256': hashlib.sha256(config_path.read_bytes()).hexdigest()[:12],
              'flow_method': options.flow_method, 'cycles': options.cycles, 'seed': options.seed,
              'threads': torch.get_num_threads(), 'threshold': options.threshold, 'code_version': code_version()}
    if options.flow_method == 'raft':
        record.update(raft_checkpoint=str(options.checkpoint), raft_iters=options.flow_iters)
    return record


def write_run_record(out_path, config, options) -> dict:
    record = run_record(config, options)
    with atomic_file(Path(out_path) / RUN_RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + '\n')
    return record


def read_run_record(out_path) -> dict:
    """The run.json of a video's run folder, or {} if it has none."""
    try:
        return json.loads((Path(out_path) / RUN_RECORD_NAME).read_text())
    except (OSError, ValueError):
        return {}


def describe(record: dict) -> str:
    """One line: 'config cpu.ini (sha 1a2b...), flow dis, 3 cycles, seed 0, 2 threads, threshold 0.5,
    code v1-3-gabc' (no threads for a record made before they were recorded)."""
    if not record:
        return 'settings not recorded'
    flow = record['flow_method']
    threads = f'{record["threads"]} thread{"s" * (record["threads"] != 1)}, ' if 'threads' in record else ''
    if flow == 'raft':
        flow += f' ({Path(record["raft_checkpoint"]).name}, {record["raft_iters"]} iterations)'
    return (f'config {Path(record["config"]).name} (sha256 {record["config_sha256"]}), flow {flow}, '
            f'{record["cycles"]} cycles, seed {record["seed"]}, {threads}threshold {record["threshold"]}, '
            f'code {record["code_version"]}')
