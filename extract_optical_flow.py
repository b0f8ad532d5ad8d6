"""Forward and backward optical flow of a video's frames, as IKE's graph module reads them.

    python extract_optical_flow.py --frames_path F --out_path O [--method raft|dis|farneback]
        [--models RAFT/models/raft-things.pth] [--iters 20] [--keep_padding] [--device auto|cpu|cuda]
        [--save_viz] [--quiet]

Writes O/fwd_of/%05d_%05d.flo (frame i -> i+1) and O/bwd_of/%05d_%05d.flo (frame i+1 -> i).
"""

from ike_utils.cli import ArgumentParser, add_common_args, run_cli, use_cpu_threads  # first: threads before torch
from ike_utils.repo import DEFAULT_RAFT_CHECKPOINT, project_path


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames_path', required=True,
                        help='folder of the video frames (jpg, png, ...; natural order: 1, 2, ..., 10)')
    parser.add_argument('--out_path', required=True, help='output folder; gets fwd_of/ and bwd_of/')
    parser.add_argument('--method', default='raft', choices=['raft', 'dis', 'farneback'],
                        help='raft (as the paper; needs weights), dis or farneback (OpenCV, no weights) (default: raft)')
    parser.add_argument('--models', default=str(DEFAULT_RAFT_CHECKPOINT),
                        help='RAFT checkpoint: original princeton-vl/RAFT .pth or torchvision state dict '
                             '(default: RAFT/models/raft-things.pth of this repository)')
    parser.add_argument('--iters', type=int, default=20, help='RAFT refinement iterations (default: 20, as the reference)')
    parser.add_argument('--keep_padding', action='store_true',
                        help='RAFT: keep the flows at the padded size (multiple of 8) as the reference did, '
                             'instead of cropping them to the frame size')
    parser.add_argument('--save_viz', action='store_true', help='also write colour-coded flow images (fwd_of_viz/, bwd_of_viz/)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    use_cpu_threads(args)
    from optical_flow.extract import extract_flows
    summary = extract_flows(args.frames_path, args.out_path, method=args.method,
                            checkpoint=str(project_path(args.models)), iters=args.iters, device=args.device,
                            save_viz=args.save_viz, quiet=args.quiet, keep_padding=args.keep_padding)
    print(f'{summary.method}: {summary.computed} pair(s) computed, {summary.skipped} already done, '
          f'{summary.seconds:.1f} s -> {args.out_path}')


if __name__ == '__main__':
    run_cli(main)
