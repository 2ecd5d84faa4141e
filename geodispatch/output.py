"""Writing outputs atomically: no half-written file or directory is ever left behind."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from geodispatch.errors import OutputError


def _umask() -> int:
    """The process umask (read without changing it for good)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only when the block succeeds.

    Raises
    ------
    OutputError
        When the destination directory cannot be created or written.
    """
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=suffix or ".part")
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}; choose a writable location") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; it replaces ``path`` only on success.

    An existing ``path`` is replaced as a whole (never mixed with stale files); on failure the
    temporary directory is removed and ``path`` is left as it was.

    Raises
    ------
    OutputError
        When the parent directory cannot be created or written.
    """
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    except OSError as exc:
        raise OutputError(f"cannot write to {dest}: {exc.strerror or exc}; choose a writable directory") from exc
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual directory mode
        if dest.exists():
            if not dest.is_dir():
                raise OutputError(f"{dest} exists and is not a directory; choose another --out")
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_csv(frame: Any, path: str | os.PathLike[str]) -> Path:
    """Write a pandas DataFrame to CSV atomically; return the path."""
    with atomic_file(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def json_safe(value: Any) -> Any:
    """A copy fit for strict JSON: non-finite floats (unreachable = inf, NaN) as None, numpy
    scalars as Python numbers, tuples as lists, keys as strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
