"""Scores of every stage of a run against ground truth, saved beside the run."""
import json
from pathlib import Path

from evaluation.davis import evaluate_frame_pairs, read_annotation
from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError
from ike_utils.frames import natural_key, read_frame_bgr

SCORES_NAME = 'scores.json'


def stage_label(stage: str, cycle: int) -> str:
    return f'{stage} {cycle}'


def annotation_files(annotation_dir, frames) -> list:
    """The annotation PNGs of a video in natural order, each named after one of its frames (a
    mask for frame 12.jpg is 12.png); an InputError otherwise, before any work."""
    annotation_dir = Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise InputError(f'annotations folder {annotation_dir} does not exist; pass the folder of this video\'s '
                         f'ground-truth PNGs or leave --annotations out')
    annotations = sorted((p for p in annotation_dir.iterdir() if p.suffix.lower() == '.png' and p.is_file()
                          and not p.name.startswith('.')), key=lambda p: natural_key(p.name))
    stems = {Path(frame).stem for frame in frames}
    strangers = [p.name for p in annotations if p.stem not in stems]
    what = f'{strangers[0]} matches no frame' if strangers else None if annotations else 'it holds no PNG masks'
    if what is None:
        mask_hw, frame_hw = read_annotation(annotations[0]).shape, read_frame_bgr(frames[0]).shape[:2]
        if mask_hw != frame_hw:
            what = (f'{annotations[0].name} is {mask_hw[1]}x{mask_hw[0]}, the frames '
                    f'{frame_hw[1]}x{frame_hw[0]}')
    if what:
        raise InputError(f'annotations folder {annotation_dir} does not fit the frames of this video ({what}); '
                         f'pass this video\'s ground truth, one PNG named like its frame (00000.jpg -> 00000.png)')
    return annotations


def davis_stage_scorer(annotation_dir, frames, name: str, threshold: float = 0.5):
    """score_stage for score_run: J and F of a folder of PNG masks, named by frame position
    (naming 'index', %05d.png) or like the frames ('frame'), against a video's DAVIS annotations
    (named like the frames)."""
    annotations = annotation_files(annotation_dir, frames)
    position = {Path(frame).stem: index for index, frame in enumerate(frames)}

    def score_stage(folder, naming):
        pairs = [(a, Path(folder) / ('%05d.png' % position[a.stem] if naming == 'index' else a.name))
                 for a in annotations[1:-1]]
        return evaluate_frame_pairs(name, pairs, threshold)
    return score_stage


def score_run(out_path, stages, final_dir, score_stage) -> dict:
    """{label: record} for each (stage, cycle, soft PNG folder) of a run, written to scores.json;
    `score_stage(folder, naming)` scores one folder of PNG masks (a record with to_dict). The last
    stage is scored on what the run delivers, final_dir/masks (named like the frames: naming
    'frame'); the others on their soft maps (named by frame position: 'index')."""
    scores = {}
    for position, (stage, cycle, folder) in enumerate(stages):
        last = position == len(stages) - 1
        scores[stage_label(stage, cycle)] = score_stage(Path(final_dir) / 'masks' if last else folder,
                                                        'frame' if last else 'index')
    with atomic_file(Path(out_path) / SCORES_NAME) as tmp:
        tmp.write_text(json.dumps({label: s.to_dict() for label, s in scores.items()}, indent=1) + '\n')
    return scores


def read_scores(out_path, record_type=SequenceScores) -> dict:
    """The saved {label: record_type} of a run, or {} if it has none."""
    try:
        data = json.loads((Path(out_path) / SCORES_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return {label: record_type.from_dict(values) for label, values in data.items()}
