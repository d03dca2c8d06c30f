"""Write files and directories so an interrupted run never leaves a half-written result, and never destroy what a
command did not create.

Every user-named output goes through `check_output` first: a folder may be new, empty, or a previous output of the
same kind (its marker file proves it; replaced only with `--force`); a file may be new (overwritten only with
`--force`); and no output may equal or contain one of the command's inputs. Temporary siblings carry the writer's
pid (`.NAME.PID-XXXX.tmp`), so the next run removes the ones a killed run left behind without touching a live one's.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from webslm.errors import WebslmError

_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[^.]*\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: Path, marker: str | None = None, *, inputs: Iterable[Path] = (), force: bool = False,
                 what: str = "output", flag: str = "--out", ignore: Iterable[str] = ()) -> None:
    """Refuse an output that would destroy what this command did not write (see the module's docstring).

    `marker`: for a folder output, the file (e.g. `webslm-bundle.json`) that marks a previous output of this kind;
    None for a file output. `inputs`: the paths the command reads. `ignore`: names inside the folder that do not
    make it "not empty" (e.g. an empty checkpoints folder a killed run left).
    """
    path = Path(path)
    target = path.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise WebslmError(f"{flag} {path}: it {'is' if source == target else 'contains'} the input {given}; "
                              f"writing there would replace it. Choose another {flag}")
    if not path.exists() and not path.is_symlink():
        return
    if marker is None:
        if path.is_dir():
            raise WebslmError(f"{flag} {path}: is a folder; give a file name for the {what}")
        if not force:
            raise WebslmError(f"{flag} {path}: the file exists; nothing was written. Pass --force to replace it, "
                              f"or choose another {flag}")
        return
    if not path.is_dir():
        raise WebslmError(f"{flag} {path}: exists and is not a folder; choose a new folder for the {what}")
    ignore = set(ignore)
    entries = [e for e in path.iterdir() if not _TMP_NAME.match(e.name)
               and not (e.name in ignore and e.is_dir() and not any(e.iterdir()))]
    if not entries:
        return
    if not (path / marker).is_file():
        raise WebslmError(f"{flag} {path}: the folder is not empty and is not a previous {what} (no {marker}); "
                          f"nothing was written. Choose a new or empty folder")
    if not force:
        raise WebslmError(f"{flag} {path}: holds a previous {what}; nothing was written. Pass --force to replace "
                          f"it, or choose another {flag}")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove `.NAME.PID-XXXX.tmp` siblings of `path` whose writing process is gone (killed mid-run)."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = _TMP_NAME.match(entry.name)
        if not m or m["name"] != path.name or _alive(int(m["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; on success rename it over `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the result the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: Path, rows) -> int:
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


@contextlib.contextmanager
def atomic_dir(path: Path, marker: str, *, inputs: Iterable[Path] = (), force: bool = False,
               what: str = "output") -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `path` (an old `path` is removed only then).

    `path` must pass `check_output(path, marker, ...)`; the caller writes `marker` into the folder it fills.
    """
    path = Path(path)
    check_output(path, marker, inputs=inputs, force=force, what=what)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if not (tmp / marker).is_file():
            raise RuntimeError(f"atomic_dir({path}): the writer did not write its marker {marker}")
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}-old.tmp")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
