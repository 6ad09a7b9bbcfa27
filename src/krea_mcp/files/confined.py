"""Files below a trusted root, reached by descriptor, so that no symbolic link below the root is ever followed.

A path checked once and used later can change in between: a directory swapped for a symlink to somewhere else
redirects every later ``open(path)``. Here a directory is opened once, one component at a time from the root with
``O_NOFOLLOW``, and files are then created, linked, renamed, read and removed relative to that open descriptor, so a
later swap cannot redirect them. The roots themselves are the operator's configuration and are trusted.

Windows has no ``dir_fd`` support: there the same calls fall back to full paths (``Directory.fd`` is None), and
confinement rests on the path checks done before (a narrow race remains on that platform only).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
#: Every call below has a ``dir_fd`` form on this platform (POSIX); otherwise full paths are used (Windows).
_AT_CALLS = {os.open, os.mkdir, os.link, os.rename, os.unlink, os.stat}
DIR_FD = hasattr(os, "O_DIRECTORY") and _AT_CALLS.issubset(os.supports_dir_fd)
_LINK = "a symbolic link, which is never followed here"
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC


class ConfinementError(OSError):
    """A path below the root is not what it was checked to be (a symlink, or not a directory)."""


class Directory:
    """An open directory below a root: names passed to its methods are single components inside it."""

    def __init__(self, path: Path, fd: int | None) -> None:
        #: Where the directory was when it was opened (it may have been moved since: see ``location``).
        self.path = path
        self.fd = fd

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def _at(self, name: str) -> str:
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise ValueError(f"not a single file name: {name!r}")
        return name if self.fd is not None else str(self.path / name)

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        """``os.open`` of ``name`` inside this directory, never following a symlink there."""
        return os.open(self._at(name), flags | _NOFOLLOW | _CLOEXEC | _BINARY, mode, dir_fd=self.fd)

    def link(self, src: str, dst: str) -> None:
        """Hard-link ``src`` as ``dst``; fails rather than replacing an existing ``dst``."""
        os.link(self._at(src), self._at(dst), src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def rename(self, src: str, dst: str) -> None:
        os.rename(self._at(src), self._at(dst), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._at(name), dir_fd=self.fd, follow_symlinks=False)

    def exists(self, name: str) -> bool:
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    def unlink_quietly(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._at(name), dir_fd=self.fd)

    def location(self) -> Path | None:
        """Where the open directory is now (it may have been renamed since it was opened); None if it was removed
        or this platform cannot tell."""
        if self.fd is None:
            return self.path if self.path.is_dir() else None
        try:
            if sys.platform.startswith("linux"):
                where = os.readlink(f"/proc/self/fd/{self.fd}")
            elif sys.platform == "darwin":
                import fcntl

                raw = fcntl.fcntl(self.fd, fcntl.F_GETPATH, bytes(1024))
                where = os.fsdecode(raw.split(b"\0", 1)[0])
            else:
                return _same_directory(self.path, self.fd)
        except OSError:
            return _same_directory(self.path, self.fd)
        if where.endswith(" (deleted)") or not where.startswith("/"):
            return None
        return Path(where)

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of the regular file ``name`` here, at most ``limit`` (ValueError if it is larger)."""
        try:
            fd = self.open(name, os.O_RDONLY | _NONBLOCK)  # a FIFO must not block the open
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ConfinementError(exc.errno, _LINK, str(self.path / name)) from None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfinementError(errno.EINVAL, "not a regular file", str(self.path / name))
            if info.st_size > limit:
                raise ValueError(f"{self.path / name} is {info.st_size} bytes, more than the {limit} allowed")
            data = file.read(limit + 1)
        if len(data) > limit:  # it grew after the fstat
            raise ValueError(f"{self.path / name} is more than the {limit} bytes allowed")
        return data


def _same_directory(path: Path, fd: int) -> Path | None:
    """``path`` if it still names the directory open as ``fd``."""
    try:
        return path if os.path.samestat(os.stat(path), os.fstat(fd)) else None
    except OSError:
        return None


def root_of(path: Path, roots: Sequence[Path]) -> Path | None:
    """The outermost of ``roots`` that contains ``path`` (compared as written: both must already be resolved)."""
    inside = [root for root in roots if path.is_relative_to(root)]
    return min(inside, key=lambda root: len(root.parts)) if inside else None


def open_below(root: Path, path: Path, *, create: bool) -> Directory:
    """Open the directory ``path`` (inside ``root``) one component at a time from ``root``, creating missing ones
    if ``create``. A component that is a symlink or not a directory raises ConfinementError."""
    parts = path.relative_to(root).parts
    if not DIR_FD:  # Windows: full paths, checked before by the caller
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise ConfinementError(errno.ENOTDIR, "not a directory", str(path))
        return Directory(path, None)
    if create:
        root.mkdir(parents=True, exist_ok=True)  # the root is configuration: trusted, created by path
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        where = root
        for name in parts:
            where = where / name
            fd_next = _open_component(fd, name, where, create=create)
            os.close(fd)
            fd = fd_next
    except BaseException:
        os.close(fd)
        raise
    return Directory(path, fd)


def _open_component(parent: int, name: str, where: Path, *, create: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        kind = _LINK if _is_link(parent, name) else "not a directory"
        raise ConfinementError(exc.errno, kind, str(where)) from None
    with contextlib.suppress(FileExistsError):  # created meanwhile by another save: fine, it is opened below
        os.mkdir(name, 0o777, dir_fd=parent)
    return _open_component(parent, name, where, create=False)


def _is_link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def read_below(roots: Sequence[Path], path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, reached from the root that contains it without following any
    symlink below that root; at most ``limit`` bytes (ValueError if larger, ConfinementError if not confined)."""
    root = root_of(path, roots)
    if root is None or path == root:
        raise ConfinementError(errno.EACCES, "outside the directories this server may read", str(path))
    with open_below(root, path.parent, create=False) as directory:
        return directory.read(path.name, limit)
