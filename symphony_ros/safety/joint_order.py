"""Map joint-named messages onto the controller's joint order, all or nothing."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

from symphony_ros.safety.errors import Rejected

_CACHE_SIZE = 8
"""Name lists remembered; bounded so a publisher sending ever-new lists cannot grow memory."""


class JointOrder:
    """The hardware command order, and permutations into it from message name lists."""

    def __init__(self, names: Sequence[str]):
        self.names: Tuple[str, ...] = tuple(names)
        self.index: Dict[str, int] = {n: i for i, n in enumerate(self.names)}
        if len(self.index) != len(self.names):
            raise ValueError(f'duplicate joint names in {self.names}')
        self._identity = np.arange(len(self.names))
        self._commands: Dict[Tuple[str, ...], np.ndarray] = {}
        self._states: Dict[Tuple[str, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.names)

    def command(self, names: Sequence[str], effort: Sequence[float],
                what: str = 'effort') -> np.ndarray:
        """Values in controller order; names must be exactly the controller's, any order.

        :param what: what the values are ('effort', 'position'), for the messages.

        :raises Rejected: wrong length, missing/unknown/duplicate names or non-finite values.
        """
        tau = np.asarray(effort, dtype=np.float64)
        n = len(self.names)
        if tau.shape != (n,):
            raise Rejected(f'{tau.size} {what}s for {n} joints')
        if len(names) != n:
            raise Rejected(f'{len(names)} joint names for {n} joints (names are required)')
        perm = self._command_permutation(tuple(names))
        if not np.isfinite(tau).all():
            bad = [names[i] for i in np.flatnonzero(~np.isfinite(tau))]
            raise Rejected(f'non-finite {what} for {", ".join(bad)}')
        return tau[perm]

    def _command_permutation(self, key: Tuple[str, ...]) -> np.ndarray:
        if key == self.names:
            return self._identity
        perm = self._commands.get(key)
        if perm is None:
            missing = [n for n in self.names if n not in key]
            unknown = [n for n in key if n not in self.index]
            if missing or unknown or len(set(key)) != len(key):
                raise Rejected(f'joint names differ from the controller: missing {missing}, '
                               f'unknown {unknown}' + ('' if len(set(key)) == len(key) else
                                                       ', duplicates'))
            where = {name: i for i, name in enumerate(key)}
            perm = np.array([where[name] for name in self.names])
            _remember(self._commands, key, perm)
        return perm

    def state(self, names: Sequence[str], position: Sequence[float],
              velocity: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        """Positions and velocities in controller order from a joint_states message.

        Extra joints are ignored; every controller joint must be there, with finite values.

        :raises Rejected: missing joints, length mismatch, missing velocities, non-finite.
        """
        q = np.asarray(position, dtype=np.float64)
        qd = np.asarray(velocity, dtype=np.float64)
        if q.shape != (len(names),) or qd.shape != (len(names),):
            raise Rejected(f'{len(names)} names, {q.size} positions, {qd.size} velocities '
                           '(positions and velocities are both required)')
        key = tuple(names)
        perm = self._identity if key == self.names else self._states.get(key)
        if perm is None:
            where = {name: i for i, name in enumerate(key)}
            missing = [n for n in self.names if n not in where]
            if missing:
                raise Rejected(f'joint_states lacks {missing}')
            perm = np.array([where[name] for name in self.names])
            _remember(self._states, key, perm)
        q, qd = q[perm], qd[perm]
        if not (np.isfinite(q).all() and np.isfinite(qd).all()):
            raise Rejected('non-finite joint position or velocity')
        return q, qd


def _remember(cache: Dict[Tuple[str, ...], np.ndarray], key: Tuple[str, ...],
              perm: np.ndarray) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = perm
