"""One training process per run folder: an exclusive lock held while a trainer uses it.

Two trainers writing one folder interleave their checkpoints, metrics and config.json, and
a resume then continues from whichever wrote last. The lock is ``flock`` on the folder
itself: nothing is written into it, and the kernel drops the lock when the holder's process
ends, however it ends, so a crashed run never leaves a stale lock behind. Within one
process the lock is shared (counted): a process holds its folders, and a trainer built again
in it (a test, a node restarting its run) is not refused by its own earlier one.
"""

from __future__ import annotations

import fcntl
import os
from typing import Dict, List

from .run_dir import RunDirError

_HELD: Dict[str, List[int]] = {}
"""Real path of a locked folder -> [file descriptor, holders in this process]."""


def lock_run_dir(run_dir: str) -> str:
    """Take the lock of existing folder ``run_dir``, or refuse; return the key to release.

    :raises RunDirError: another process holds it.
    """
    key = os.path.realpath(run_dir)
    if key in _HELD:
        _HELD[key][1] += 1
        return key
    fd = os.open(key, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirError(f'run folder {run_dir} is in use by another training process '
                          f'(find it with: pgrep -af {os.path.basename(key)!r}); stop it first '
                          '(Ctrl-C writes a checkpoint), then --resume') from None
    _HELD[key] = [fd, 1]
    return key


def unlock_run_dir(key: str) -> None:
    """Release one hold of :func:`lock_run_dir`; the last one unlocks the folder."""
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] <= 0:
        del _HELD[key]
        fcntl.flock(held[0], fcntl.LOCK_UN)
        os.close(held[0])


__all__ = ['lock_run_dir', 'unlock_run_dir']
