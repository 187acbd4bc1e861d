"""Atomic file writes: write to a temporary file in the same folder, then ``os.replace`` it.

What a reader can rely on: ``path`` holds either its previous content or the new content in
full, never a mix, whatever happens during the write (an exception, Ctrl-C, a crash of the
process, ``kill -9``). The new content is flushed to disk (``fsync``) before the rename, and the
folder after it. The temporary file is named ``.NAME.PID.RANDOM.tmp``; an exception removes it
at once, and a process killed while writing leaves it behind, so every later write to the same
target first removes the temporary files of processes that no longer run. A path that holds
something other than a regular file (``/dev/null``, a pipe) is never replaced. A file that already
exists keeps its permission bits (a checkpoint made private with mode 0600 stays private); a new
file gets the usual 0666 less the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._validate import fail

#: Temporary files of a writer whose process id cannot be read (an older nnkit) count as stale
#: after this many seconds.
_LEGACY_STALE_SECONDS = 3600.0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete the temporary files that killed writers left beside ``target``; return them."""
    removed = []
    for candidate in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
        middle = candidate.name[len(target.name) + 2 : -len(".tmp")]
        pid_text, _, _ = middle.partition(".")
        try:
            stale = (
                not _alive(int(pid_text))
                if pid_text.isdigit()
                else (time.time() - candidate.stat().st_mtime > _LEGACY_STALE_SECONDS)
            )
        except FileNotFoundError:  # its writer just finished
            continue
        if stale:
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _fsync(path: str | Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some file systems cannot open a folder: nothing more to do
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside ``path`` that replaces ``path`` only if the block finishes.

    For writers that want a file name rather than a handle (matplotlib's animation writers).
    If the block raises, ``path`` keeps its previous content and the temporary file is removed;
    if the process dies, the next write to ``path`` removes it. See the module's description.
    """
    target = Path(path)
    special = not_regular(target)
    if special is not None:  # renaming over a device node would replace it with a file
        raise OSError(errno.EINVAL, special)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=suffix, dir=target.parent
    )
    os.close(fd)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent, directory=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block finishes."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        yield handle


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def not_regular(target: Path) -> str | None:
    """Why ``target`` must not be replaced: it exists and is not a regular file (a device such
    as ``/dev/null``, a pipe, a socket; a link to one). None for a regular file or a new path."""
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{target} is not a regular file (a device, pipe or socket), expected a file name"


def unwritable(path: str | os.PathLike[str]) -> str | None:
    """Why a file cannot be written at ``path``, in words that name it (``"/x is a folder,
    expected a file name"``, ``"cannot write /x: Permission denied"``), or None when it can:
    it is not a folder, and its folder exists or can be made and takes a file (a probe file is
    made and removed there)."""
    target = Path(path)
    if target.is_dir():
        return f"{target} is a folder, expected a file name"
    special = not_regular(target)
    if special is not None:
        return special
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.probe."):
            pass
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    return None


def check_writable(path: str | os.PathLike[str], parameter: str) -> None:
    """Before long work: an :class:`~nnkit.errors.InvalidArgumentError` naming ``parameter``
    when ``path`` cannot be written (:func:`unwritable`)."""
    problem = unwritable(path)
    if problem is not None:
        raise fail(parameter, f"{parameter}: {problem}")
