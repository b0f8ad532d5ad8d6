"""The whole IKE loop on a synthetic clip that the project generates (no download), scored against
the clip's true mask.

    python demo.py [--out_path demo_out] [--cycles 2] [--device auto]

Writes the clip to OUT/clip/ (frames, true masks), the run to OUT/run/ (flow, cycles, final masks),
an overlay of the final masks to OUT/overlay.png, and prints J for every stage.
"""
import argparse

from ike_utils.cli import add_common_args, run_cli
from pipeline.demo import run_demo

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out_path', default='demo_out')
    parser.add_argument('--config', default='configs/demo.ini')
    parser.add_argument('--cycles', type=int, default=2)
    parser.add_argument('--frames', type=int, default=24, help='length of the synthetic clip')
    add_common_args(parser)
    args = parser.parse_args()
    run_cli(run_demo, args.out_path, args.config, args.cycles, args.frames, args.device, args.quiet)
