"""Exported policies: ONNX export with a contract, and the onnxruntime runtime; never rclpy.

``OnnxPolicy`` and the export functions load lazily so that importing this package (and
``symphony_ros``) stays cheap: onnxruntime and torch are imported on first use.
"""

from typing import Any

from .contract import FORMAT_VERSION, METADATA_KEY, PolicyContract
from .errors import (ContractError, ExportError, MissingContractError, NewerFormatError,
                     ObservationError, ParityError, PolicyError, PolicyFileError,
                     RobotMismatchError)

_LAZY = {'OnnxPolicy': 'runtime', 'load_contract': 'onnx_file', 'export_policy': 'export',
         'ExportResult': 'export'}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['ContractError', 'ExportError', 'ExportResult', 'FORMAT_VERSION', 'METADATA_KEY',
           'MissingContractError', 'NewerFormatError', 'ObservationError', 'OnnxPolicy',
           'ParityError', 'PolicyContract', 'PolicyError', 'PolicyFileError',
           'RobotMismatchError', 'export_policy', 'load_contract']
