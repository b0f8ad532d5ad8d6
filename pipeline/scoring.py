"""Scores of every stage of a run against ground truth, saved beside the run."""
import json
from pathlib import Path

from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_file
from pipeline.layout import stage_masks

SCORES_NAME = 'scores.json'


def stage_label(stage: str, cycle: int) -> str:
    return f'{stage} {cycle}'


def score_run(out_path, stages, score_stage) -> dict:
    """{label: record} for each (stage, cycle, folder) of a run, written to scores.json;
    `score_stage(result_dir)` scores one folder of PNG masks (a record with to_dict). The last stage
    is scored on what the run delivers, final/masks; the others on their soft maps."""
    scores = {}
    for position, (stage, cycle, _) in enumerate(stages):
        result_dir = stage_masks(out_path, 'final' if position == len(stages) - 1 else stage, cycle)
        scores[stage_label(stage, cycle)] = score_stage(result_dir)
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
