"""Transition chunks: what a collector sends, and the learner's check before it stores one.

A chunk is a plain dict of numpy arrays and numbers (no classes: any Ray worker, of any
version of this code, can build one, and the learner trusts nothing in it it has not
checked). Rows are consecutive env steps of one collector, oldest first.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import numpy as np

ARRAYS = ('obs', 'action', 'reward', 'next_obs', 'terminated', 'episode_end', 'noise_fall')
"""Per-transition fields; ``episode_end`` is terminated or truncated (time or step limit);
``noise_fall``: terminated in the deliberate fall, where noise alone acted."""
NUMBERS = ('run_id', 'collector', 'weights_version', 'collect_s')
"""Per-chunk fields: the learner session that asked, who sent it, the update count of the
weights that acted, and the seconds spent stepping."""
DRAWS = 'randomization'
"""Per-chunk list: the randomisation draws and outcome (a JSON object) of each episode
recorded in the chunk, oldest first: those that ended in it, and one its collector's
episode limit ended, recorded at the reset that follows; empty when the run's training env
is not randomised."""


def check_chunk(chunk: Any, run_id: str, obs_dim: int, act_dim: int,
                max_rows: int) -> Optional[str]:
    """Return why ``chunk`` cannot go into this run's buffer, or None when it can.

    :param run_id: the learner session's id; a chunk stamped with another is refused (a
        collector of another run or of a learner that died, on a shared cluster).
    :param max_rows: the rows asked for; more is a collector that ignores requests.
    """
    if not isinstance(chunk, dict):
        return f'not a dict but {type(chunk).__name__}'
    missing = [k for k in ARRAYS + NUMBERS + (DRAWS,) if k not in chunk]
    if missing:
        return f'lacks {", ".join(missing)}'
    if chunk['run_id'] != run_id:
        return f'run id {str(chunk["run_id"])[:40]!r} is not this run\'s ({run_id})'
    for name, types in (('collector', int), ('weights_version', int),
                        ('collect_s', (int, float))):
        if not isinstance(chunk[name], types) or isinstance(chunk[name], bool):
            return f'{name} is a {type(chunk[name]).__name__}, expected a number'
    n = len(chunk['reward']) if isinstance(chunk['reward'], np.ndarray) else -1
    if not 0 < n <= max_rows:
        return f'{n} rows, expected 1..{max_rows}'
    shapes = {'obs': (n, obs_dim), 'next_obs': (n, obs_dim), 'action': (n, act_dim),
              'reward': (n,), 'terminated': (n,), 'episode_end': (n,), 'noise_fall': (n,)}
    for name, shape in shapes.items():
        value = chunk[name]
        if not isinstance(value, np.ndarray) or value.shape != shape:
            got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
            return f'{name} has shape {got}, expected {shape}'
        if name in ('terminated', 'episode_end', 'noise_fall'):
            if value.dtype != np.bool_:
                return f'{name} has dtype {value.dtype}, expected bool'
        elif not np.issubdtype(value.dtype, np.floating) or not np.isfinite(value).all():
            return f'{name} is not all finite floats'
    if (chunk['terminated'] & ~chunk['episode_end']).any():
        return 'a terminated transition that does not end its episode'
    if (chunk['noise_fall'] & ~chunk['terminated']).any():
        return 'a noise fall that is not a terminated transition'
    return _check_draws(chunk[DRAWS], int(chunk['episode_end'].sum()) + 1)


def _check_draws(draws: Any, begun: int) -> Optional[str]:
    """Return why ``draws`` is not a list of at most ``begun`` plain JSON objects, or None."""
    if not isinstance(draws, list) or not all(isinstance(d, dict) for d in draws):
        return f'{DRAWS} is not a list of objects'
    if len(draws) > begun:
        return f'{DRAWS} holds {len(draws)} episodes, expected at most {begun} (episodes begun)'
    try:
        json.dumps(draws, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f'{DRAWS} is not plain JSON ({str(exc)[:80]})'
    return None


def chunk_rows(chunk: Dict[str, Any]) -> int:
    """Return the number of transitions in a checked chunk."""
    return len(chunk['reward'])
