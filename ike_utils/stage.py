"""The one stage contract: when a stage (flow, graph, network, final) is skipped, and how it is
redone so that nothing stale or half-written ever looks complete.

A `Stage` declares its folder, its inputs (files and folders, each label fingerprinted), its
settings (plain values) and its outputs (paths inside its folder). Its record, FOLDER/stage.json,
says what made the outputs:

    {"stage": name, "state": "running" | "done", "inputs": {label: fingerprint},
     "settings": {...}, "outputs": {path: fingerprint}, "result": {...}, "sources": {label: [paths]}}

Only inputs, settings and outputs are compared; "sources" (where the inputs were) is for people,
so a moved run folder is still current.

A fingerprint covers the names, sizes and modification times of every visible file (hidden files,
that is temporary files, locks and records, never count), and for frames their content too.
`run_stage` is the only place that decides:

- skip when the record is "done", was made from inputs and settings equal to the present ones,
  and every output is still there, unchanged;
- otherwise redo: lock the folder, delete the temporary files of dead runs, write a "running"
  record (from then on the old outputs no longer look complete), delete the old outputs (those
  of an earlier run of the same inputs and settings are kept: the work may resume from them, as
  the flow does pair by pair), do the work, check that every declared output exists, write the
  "done" record.

A redone stage writes new files, so the inputs of every later stage change and they are redone too.
"""
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError
from ike_utils.run_lock import folder_lock

RECORD_NAME = 'stage.json'
_TEMPORARY = re.compile(r'^\..*\.(tmp|old)-(\d+)')  # ike_utils.atomic's temporary names


def _visible_files(path: Path):
    """The files under `path` (itself if a file), hidden ones and records left out, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    found = []
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith('.'))
        found += [Path(root) / f for f in sorted(files) if not f.startswith('.') and f != RECORD_NAME]
    return found


def fingerprint(paths, content: bool = False) -> str:
    """A digest of the files of `paths` (files or folders): names, sizes and modification times,
    and with `content` their bytes. A missing path gives a digest of its absence."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        files = _visible_files(path)
        digest.update(f'{path.name}:{len(files)}\n'.encode())
        for file in files:
            stat = file.stat()
            name = file.relative_to(path).as_posix() if file != path else file.name
            digest.update(f'{name}:{stat.st_size}'.encode())
            if content:
                with open(file, 'rb') as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b''):
                        digest.update(chunk)
            else:
                digest.update(f':{stat.st_mtime_ns}'.encode())
            digest.update(b'\n')
    return digest.hexdigest()


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def _sources(paths) -> list:
    paths = [str(Path(p).resolve()) for p in paths]
    parents = sorted({str(Path(p).parent) for p in paths})
    return parents if len(paths) > 3 and len(parents) == 1 else paths  # a folder's files: the folder


def read_record(folder) -> Optional[dict]:
    try:
        record = json.loads((Path(folder) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(folder: Path, record: dict):
    with atomic_file(folder / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + '\n')


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from before this stage started: nothing of ours is being written now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(folder):
    """Delete the temporary files and folders (ike_utils.atomic's) of dead processes in `folder`
    (recursively) and beside it."""
    folder = Path(folder)
    candidates = list(folder.parent.glob(f'.{folder.name}.*')) if folder.parent != folder else []
    if folder.is_dir():
        for root, folders, files in os.walk(folder):
            candidates += [Path(root) / name for name in folders + files if name.startswith('.')]
    for path in candidates:
        match = _TEMPORARY.match(path.name)
        if match and not _pid_alive(int(match.group(2))):
            _remove(path)


def invalidate(folder):
    """Make a stage's folder hold nothing that looks complete: its record and the outputs it lists
    go. Used by the pipeline on every later stage as soon as one stage is redone."""
    folder = Path(folder)
    record = read_record(folder)
    (folder / RECORD_NAME).unlink(missing_ok=True)
    for name in (record or {}).get('outputs', {}):
        _remove(folder / name)


@dataclass
class Stage:
    """What a stage reads, how, and what it writes. `inputs`: {label: [paths]}; `content_inputs`:
    labels whose file contents are hashed (cheap inputs such as frames); `outputs`: paths relative
    to `folder`, each a file or a folder that must exist when the stage is done, or None when only
    the work knows them (it sets them before it returns; the record keeps them)."""
    name: str
    folder: Path
    inputs: dict
    settings: dict
    outputs: Optional[tuple]
    content_inputs: tuple = ()
    _input_prints: Optional[dict] = field(default=None, repr=False)

    def output_names(self, record=None) -> tuple:
        if self.outputs is not None:
            return tuple(self.outputs)
        return tuple((record or {}).get('outputs') or ())

    def output_paths(self, record=None):
        return [Path(self.folder) / name for name in self.output_names(record)]

    def input_prints(self) -> dict:
        if self._input_prints is None:
            self._input_prints = {label: fingerprint(paths, content=label in self.content_inputs)
                                  for label, paths in self.inputs.items()}
        return self._input_prints

    def output_prints(self, record=None) -> dict:
        return {name: fingerprint([Path(self.folder) / name]) for name in self.output_names(record)}

    def _same_work(self, record) -> bool:
        return (record is not None and record.get('stage') == self.name
                and record.get('inputs') == self.input_prints() and record.get('settings') == _plain(self.settings))

    def is_done(self) -> bool:
        """Whether the outputs on disk are complete and were made from these inputs and settings."""
        record = read_record(self.folder)
        return (self._same_work(record) and record.get('state') == 'done'
                and all(p.exists() for p in self.output_paths(record))
                and record.get('outputs') == self.output_prints(record))

    def result(self) -> dict:
        """What the work returned when the stage was done (e.g. the training losses), or {}."""
        return (read_record(self.folder) or {}).get('result', {})


def run_stage(stage: Stage, work: Callable[[bool], Optional[dict]], before_redo: Callable[[], None] = None,
              force: bool = False, prepare: Callable[[], None] = None, flag: str = '--out_path') -> bool:
    """Skip `stage` if it is done (unless `force`); otherwise redo it with `work(resume)` (see the
    module doc). `prepare` (when given) checks or loads the inputs first, before anything is
    written, so that bad input leaves no trace. `before_redo` runs next (the pipeline invalidates the
    later stages there). `work` may return a small dict kept in the record. Returns True when the
    work ran."""
    folder = Path(stage.folder)
    with folder_lock(folder, flag):
        if not force and stage.is_done():
            return False
        remove_dead_temporaries(folder)
        if prepare is not None:
            prepare()
        if before_redo is not None:
            before_redo()
        previous = read_record(folder)
        resume = stage._same_work(previous) and not force
        record = {'stage': stage.name, 'state': 'running', 'pid': os.getpid(), 'inputs': stage.input_prints(),
                  'settings': _plain(stage.settings), 'outputs': {name: None for name in stage.output_names()},
                  'sources': {label: _sources(paths) for label, paths in stage.inputs.items()}}
        _write_record(folder, record)
        if not resume:
            for name in set(stage.output_names()) | set((previous or {}).get('outputs') or {}):
                _remove(folder / name)
        result = work(resume) or {}
        if stage.outputs is None:
            raise RuntimeError(f'stage {stage.name} did not say what it wrote')
        missing = [p for p in stage.output_paths() if not p.exists()]
        if missing:
            raise RuntimeError(f'stage {stage.name} finished without writing {missing[0]}')
        record.update(state='done', outputs=stage.output_prints(), result=_plain(result))
        record.pop('pid')
        _write_record(folder, record)
    return True


def require_finite(tensor, what: str, hint: str):
    """An InputError naming `what` and the likely setting (`hint`) if `tensor` holds NaN or inf."""
    import torch
    if not bool(torch.isfinite(tensor).all()):
        raise InputError(f'{what} holds NaN or infinite values; {hint}')
