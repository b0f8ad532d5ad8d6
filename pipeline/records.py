"""Stage records: a small JSON beside a stage's outputs saying what made them.

A stage whose record is present and equal to what would be run now is complete and is skipped;
the record is written last, after every output of the stage exists, so an interrupted stage has
none and is redone."""
import json
from pathlib import Path

from ike_utils.atomic import atomic_file

RECORD_NAME = 'stage.json'


def _normalise(value):
    return json.loads(json.dumps(value, default=str))


def is_done(folder, record: dict) -> bool:
    try:
        saved = json.loads((Path(folder) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return False
    return saved == _normalise(record)


def mark_done(folder, record: dict) -> None:
    with atomic_file(Path(folder) / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(_normalise(record), indent=1) + '\n')


def clear_done(folder) -> None:
    (Path(folder) / RECORD_NAME).unlink(missing_ok=True)
