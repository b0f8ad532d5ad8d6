"""The repository's own files (configs, the RAFT checkpoint's place), found from wherever a command
is run."""
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / 'config.ini'
DEMO_CONFIG = REPO_ROOT / 'configs' / 'demo.ini'
DEFAULT_RAFT_CHECKPOINT = REPO_ROOT / 'RAFT' / 'models' / 'raft-things.pth'


def project_path(path) -> Path:
    """`path` as given when it exists (or is absolute); else, when the repository holds it (e.g.
    configs/cpu.ini given from another folder), the repository's file; else `path` unchanged, so
    that the error names what was given."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    in_repo = REPO_ROOT / path
    return in_repo if in_repo.exists() else path


def shown(path) -> str:
    """A path for help texts and messages: relative to the repository when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def code_version() -> str:
    """`git describe --always --dirty` of the repository, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(['git', 'describe', '--always', '--dirty', '--tags'], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else 'unknown'
