"""The demo: the loop on a synthetic clip with a known mask."""
import time
from pathlib import Path

import numpy as np

from evaluation.davis import evaluate_sequence
from evaluation.report import write_contact_sheet
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.synthetic import make_clip, write_clip
from pipeline.layout import stage_masks
from pipeline.video import LoopOptions, run_video


def run_demo(out_path, config_path, cycles=2, n_frames=24, device='auto', quiet=False):
    """Generate the clip, run flow (OpenCV DIS) and the cycles, print J per stage; returns the final J."""
    started = time.perf_counter()
    out_path = Path(out_path)
    config = load_config(config_path)
    clip_dir = write_clip(make_clip(n_frames=n_frames, height=180, width=320), out_path / 'clip', with_flows=False)
    result = run_video(clip_dir / 'frames', out_path / 'run', config, LoopOptions(cycles=cycles, flow_method='dis'),
                       resolve_device(device), quiet=quiet)
    print(f'IKE demo: {n_frames} synthetic frames, {cycles} cycles, {time.perf_counter() - started:.0f} s')
    final_j = None
    for stage, cycle, _ in result['stages']:
        scores = evaluate_sequence(stage_masks(out_path / 'run', stage, cycle), clip_dir / 'masks')
        final_j = scores.J_mean
        print(f'  {stage} {cycle}: J = {scores.J_mean:.3f}  (F = {scores.F_mean:.3f})')
    final = evaluate_sequence(result['final'] / 'masks', clip_dir / 'masks')
    write_contact_sheet(clip_dir / 'frames', result['final'] / 'masks', out_path / 'overlay.png', tiles=8)
    print(f'final masks {result["final"] / "masks"}: J = {final.J_mean:.3f} against the true mask '
          f'(overlay: {out_path / "overlay.png"})')
    return float(np.round(final_j, 6)) if final_j is not None else None
