"""The demo: the loop on a synthetic clip with a known mask."""
import time

import numpy as np

from evaluation.davis import evaluate_sequence
from evaluation.report import write_contact_sheet
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.synthetic import make_clip, write_clip
from ike_utils.errors import InputError
from ike_utils.run_lock import check_out_folder
from pipeline.video import LoopOptions, run_video


def run_demo(out_path, config_path, cycles=2, n_frames=24, device='auto', quiet=False):
    """Generate the clip, run flow (OpenCV DIS) and the cycles, print J per stage; returns the final J."""
    started = time.perf_counter()
    if n_frames < 3:
        raise InputError(f'--frames {n_frames} is not valid; the demo clip needs at least 3 frames (default 24)')
    config = load_config(config_path)
    options = LoopOptions(cycles=cycles, flow_method='dis')
    out_path = check_out_folder(out_path)  # created only once the settings are good
    clip_dir = write_clip(make_clip(n_frames=n_frames, height=180, width=320), out_path / 'clip', with_flows=False)
    result = run_video(clip_dir / 'frames', out_path / 'run', config, options, resolve_device(device), quiet=quiet)
    print(f'IKE demo: {n_frames} synthetic frames, {cycles} cycles, {time.perf_counter() - started:.0f} s')
    final_j = None
    for stage, cycle, images in result['stages']:
        scores = evaluate_sequence(images, clip_dir / 'masks')
        final_j = scores.J_mean
        print(f'  {stage} {cycle}: J = {scores.J_mean:.3f}  (F = {scores.F_mean:.3f})')
    final = evaluate_sequence(result['final'] / 'masks', clip_dir / 'masks')
    write_contact_sheet(clip_dir / 'frames', result['final'] / 'masks', out_path / 'overlay.png', tiles=8)
    print(f'final masks {result["final"] / "masks"}: J = {final.J_mean:.3f} against the true mask '
          f'(overlay: {out_path / "overlay.png"})')
    return float(np.round(final_j, 6)) if final_j is not None else None
