"""Scores of every stage of a run against ground truth, saved beside the run."""
import json
from pathlib import Path

from evaluation.davis import annotation_files, evaluate_frame_pairs
from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_file
from pipeline.layout import stage_naming

SCORES_NAME = 'scores.json'


def stage_label(stage: str, cycle: int) -> str:
    return f'{stage} {cycle}'


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
    stage is scored on what the run delivers, final_dir/masks; the others on their soft maps (each
    named as pipeline.layout.stage_naming says)."""
    scores = {}
    for position, (stage, cycle, folder) in enumerate(stages):
        last = position == len(stages) - 1
        scores[stage_label(stage, cycle)] = score_stage(Path(final_dir) / 'masks' if last else folder,
                                                        stage_naming('final' if last else stage))
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
