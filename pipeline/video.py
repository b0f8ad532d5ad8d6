"""IKE on one video: flow, then graph -> network -> graph ... cycles, then the final masks.

Layout of out_path: flow/, cycle_1/graph/, cycle_1/network/, cycle_2/graph/, ..., final/, and
scores.json when annotations are given. Each stage decides through the stage contract
(ike_utils.stage) whether its outputs are current; a stage that is redone first invalidates every
later stage (their records and outputs, final/ and scores.json go), and since it writes new files,
every later stage is redone. The run holds a lock on out_path (ike_utils.run_lock).
"""
import dataclasses
import json
import math
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from graph_module.outputs import run_graph_stage
from graph_module.settings import GraphSettings
from ike_utils.atomic import atomic_file
from ike_utils.config import Config
from ike_utils.errors import InputError
from ike_utils.frames import frame_size, list_frames
from ike_utils import progress
from ike_utils.repo import DEFAULT_RAFT_CHECKPOINT
from ike_utils.run_lock import folder_lock
from ike_utils.stage import invalidate
from network_module.settings import NetworkSettings
from network_module.train import DEFAULT_SEED, checkpoint_path, image_folder, run_network
from optical_flow.extract import extract_flows, max_motion
from pipeline.final import write_empty_final, write_final
from pipeline.provenance import write_run_record
from pipeline.scoring import SCORES_NAME

STATIC_MOTION = 1e-3  # pixels: below this largest flow anywhere, nothing moves


@dataclass(frozen=True)
class LoopOptions:
    """How the loop runs (the math lives in the config); checked when made."""
    cycles: int = 3
    flow_method: str = 'raft'
    checkpoint: Optional[str] = str(DEFAULT_RAFT_CHECKPOINT)
    flow_iters: int = 20
    threshold: float = 0.5
    seed: Optional[int] = DEFAULT_SEED

    def __post_init__(self):
        if self.cycles < 1:
            raise InputError(f'--cycles {self.cycles} is not valid; give at least 1 graph pass (default 3)')
        if not (math.isfinite(self.threshold) and 0 < self.threshold < 1):
            raise InputError(f'--threshold {self.threshold} is not valid; give a value between 0 and 1 '
                             f'(exclusive), e.g. 0.5')
        if self.flow_method == 'raft' and self.flow_iters < 1:
            raise InputError(f'--iters {self.flow_iters} is not valid; RAFT needs at least 1 iteration (default 20)')


def stage_folders(out_path, cycles: int) -> list:
    """Every stage's folder, in the order they run: flow, cycle_1/graph, cycle_1/network, ..., final."""
    out_path = Path(out_path)
    folders = [out_path / 'flow']
    for cycle in range(1, cycles + 1):
        folders.append(out_path / f'cycle_{cycle}' / 'graph')
        if cycle < cycles:
            folders.append(out_path / f'cycle_{cycle}' / 'network')
    return folders + [out_path / 'final']


def graph_settings(config: Config, features_paths=()) -> GraphSettings:
    """The config's graph settings, always saving the last iteration (the network learns from it)."""
    settings = GraphSettings.from_config(config, features_paths=tuple(str(p) for p in features_paths))
    saved = set(settings.to_save_iterations) | {settings.n_iterations - 1}
    return dataclasses.replace(settings, to_save_iterations=tuple(sorted(saved)))


def check_video(files, config: Config, options: LoopOptions) -> NetworkSettings:
    """Everything about this video and config that can fail, checked before any work."""
    graph_settings(config)
    network_settings = NetworkSettings.from_config(config)
    if options.cycles > 1 and len(files) < network_settings.batch_size:
        raise InputError(f'{files[0].parent} holds {len(files)} frames, fewer than one network batch '
                         f'([Network Module] batch_size = {network_settings.batch_size} in {config.source}); '
                         f'lower batch_size or run --cycles 1')
    return network_settings


def run_video(frames_path, out_path, config: Config, options: LoopOptions, device, quiet=True):
    """Run the whole loop on one video. Returns {'stages': [(stage, cycle, soft PNG folder), ...],
    'final': final folder, 'frames': the frame files, 'seconds': {...}}. Prints a line as each stage
    starts, ends or is skipped (unless quiet); `seconds` holds the stages that ran."""
    frames_path, out_path = Path(frames_path), Path(out_path)
    files = list_frames(frames_path, min_count=2)
    network_settings = check_video(files, config, options)
    video = frames_path.name
    with folder_lock(out_path):
        original_size = frame_size(files)
        write_run_record(out_path, config, options)
        plan = stage_folders(out_path, options.cycles)
        seconds, stages = {}, []

        def run_stage_of_loop(label, folder, call, detail=lambda result: ''):
            """call(before_redo) runs one stage; when it is redone, every later stage is invalidated
            first; a line says that it started and ended (with `detail(result)`), or that it was skipped."""
            redone = {}

            def before_redo():
                for later in plan[plan.index(folder) + 1:-1]:
                    invalidate(later)
                shutil.rmtree(plan[-1], ignore_errors=True)  # final/, with whatever was added to it
                (out_path / SCORES_NAME).unlink(missing_ok=True)
                redone['lines'] = progress.Stage(f'{video}: {label}', quiet)
            result = call(before_redo)
            if redone:
                seconds[str(folder.relative_to(out_path))] = redone['lines'].done(detail(result))
            else:
                progress.Stage.skipped(f'{video}: {label}', quiet)
            return result

        flow_dir = plan[0]
        run_stage_of_loop(f'flow ({options.flow_method})', flow_dir, lambda before_redo: extract_flows(
            frames_path, flow_dir, method=options.flow_method,
            checkpoint=options.checkpoint if options.flow_method == 'raft' else None,
            iters=options.flow_iters, device=device, quiet=quiet, before_redo=before_redo),
            lambda summary: f'{summary.computed} pair(s) computed, {summary.skipped} done before')
        if max_motion(flow_dir) < STATIC_MOTION:
            warnings.warn(f'nothing moves in {frames_path} (the flow is zero everywhere): no moving object was '
                          f'found; no graph or network pass runs, and final/ holds empty masks')
            for later in plan[1:-1]:
                invalidate(later)
            settings = graph_settings(config)
            final_dir = write_empty_final(files, flow_dir, plan[-1], original_size,
                                          (settings.working_h, settings.working_w))
            _update_timings(out_path / 'timings.json', seconds)
            return {'stages': [], 'final': final_dir, 'frames': files, 'seconds': seconds}

        features, last_checkpoint = (), None
        for cycle in range(1, options.cycles + 1):
            graph_dir = out_path / f'cycle_{cycle}' / 'graph'
            settings = graph_settings(config, features)
            _, (soft_pt, soft_png) = run_stage_of_loop(f'cycle {cycle} graph', graph_dir, lambda before_redo: (
                run_graph_stage(frames_path, flow_dir, graph_dir, settings, device, quiet=quiet,
                                before_redo=before_redo)))
            stages.append(('graph', cycle, soft_png))
            if cycle == options.cycles:
                break
            network_dir = out_path / f'cycle_{cycle}' / 'network'
            # the first network starts from scratch (its record then does not depend on the warm-start keys)
            cycle_settings, initial_weights = dataclasses.replace(network_settings, warm_start_epochs=0,
                                                                  warm_start_test_time_flip=True), None
            if network_settings.warm_start_epochs and last_checkpoint:  # IKE+: go on from the last network
                cycle_settings, initial_weights = network_settings.warm_started(), last_checkpoint
            folders = run_stage_of_loop(f'cycle {cycle} network', network_dir, lambda before_redo: run_network(
                frames_path, soft_pt, network_dir, cycle_settings, device, seed=options.seed, quiet=quiet,
                before_redo=before_redo, initial_weights=initial_weights))
            stages.append(('network', cycle, image_folder(network_dir, cycle_settings.to_save_epochs[-1])))
            last_checkpoint = checkpoint_path(network_dir, cycle_settings.to_save_epochs[-1])
            features = (folders[-1],)

        final_dir = write_final(files, soft_pt, soft_png, plan[-1], original_size, options.threshold)
        _update_timings(out_path / 'timings.json', seconds)
    return {'stages': stages, 'final': final_dir, 'frames': files, 'seconds': seconds}


def _update_timings(path: Path, seconds: dict) -> None:
    """timings.json: the seconds of the stages that ran now, and the earlier figures of the others
    (a rerun that skips a stage keeps the time it took)."""
    try:
        timings = json.loads(path.read_text())
    except (OSError, ValueError):
        timings = {}
    timings.update(seconds)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(timings, indent=1) + '\n')
