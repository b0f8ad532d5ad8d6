"""The whole IKE loop on a synthetic clip that the project generates (no download), scored against
the clip's true mask.

    python demo.py [--out_path demo_out] [--cycles 2] [--device auto]

Writes the clip to OUT/clip/ (frames, true masks), the run to OUT/run/ (flow, cycles, final masks),
an overlay of the final masks to OUT/overlay.png, and prints J for every stage. Runs from any folder.
"""
from ike_utils.cli import (ArgumentParser, add_common_args, positive_int,  # first: threads before torch
                           run_cli, use_cpu_threads)
from ike_utils.repo import DEMO_CONFIG, shown
from pipeline.demo import run_demo


def main(args):
    use_cpu_threads(args)
    return run_demo(args.out_path, args.config, args.cycles, args.frames, args.device, args.quiet)


if __name__ == '__main__':
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('--out_path', default='demo_out', help='where the clip and the run go (default: demo_out)')
    parser.add_argument('--config', default=str(DEMO_CONFIG),
                        help=f'settings file (default: {shown(DEMO_CONFIG)} of the repository, small and fast)')
    parser.add_argument('--cycles', type=positive_int, default=2, help='graph passes, a network pass between two (default: 2)')
    parser.add_argument('--frames', type=int, default=24, help='length of the synthetic clip (default: 24)')
    add_common_args(parser)
    run_cli(main, parser.parse_args())
