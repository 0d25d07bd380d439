"""Typed errors of the policy file, its contract and the runtime; one base class to catch.

Every message starts with the file and the field at fault and says what was expected, so a
deployment that refuses to start says why in one line.
"""

from __future__ import annotations

from typing import Optional, Sequence


class PolicyError(Exception):
    """Base of every error raised by :mod:`symphony_ros.policy`."""

    def __init__(self, path: Optional[str], field: Optional[str], message: str) -> None:
        """Record where (``path``, ``field``) and what; ``str()`` names both."""
        self.path, self.field, self.message = path, field, message
        where = ': '.join(p for p in (path, field) if p)
        super().__init__(f'{where}: {message}' if where else message)


class PolicyFileError(PolicyError):
    """The file is missing, empty, truncated, not ONNX, or onnxruntime cannot load it."""


class ContractError(PolicyError):
    """The metadata contract is missing, malformed, or disagrees with the graph."""


class MissingContractError(ContractError):
    """The ONNX file has no symphony_ros contract (exported by something else)."""


class NewerFormatError(ContractError):
    """The contract was written in a format version newer than this runtime reads."""


class RobotMismatchError(PolicyError):
    """The robot a policy is asked to drive is not the robot it was exported for."""

    def __init__(self, path: Optional[str], field: Optional[str], message: str,
                 differences: Sequence[str] = ()) -> None:
        """Like :class:`PolicyError`, keeping each difference as one line in ``differences``."""
        self.differences = list(differences)
        if self.differences:
            message = message + ': ' + '; '.join(self.differences)
        super().__init__(path, field, message)


class ObservationError(PolicyError, ValueError):
    """An observation of the wrong shape or with NaN/Inf values."""


class ExportError(PolicyError):
    """Export refused: unknown env/robot, inconsistent dims, or a write failure."""


class ParityError(ExportError):
    """onnxruntime and torch disagree on the exported actor beyond the tolerance."""


__all__ = ['ContractError', 'ExportError', 'MissingContractError', 'NewerFormatError',
           'ObservationError', 'ParityError', 'PolicyError', 'PolicyFileError',
           'RobotMismatchError']
