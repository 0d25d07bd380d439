"""Reading an exported policy file: every way it can be unreadable becomes a typed error.

Only ``onnx`` (protobuf) is needed here, not onnxruntime, so inspecting a file is cheap.
"""

from __future__ import annotations

import onnx

from ..paths import policy_path_problem
from .contract import PolicyContract, read_contract
from .errors import PolicyFileError


TORCH_ZIP = b'PK\x03\x04'
"""torch.save writes a zip archive; an exported ONNX model (protobuf, ir_version first) does
not start with these bytes."""


def load_model(path: str) -> onnx.ModelProto:
    """Read and parse an ONNX file, turning every failure into a :class:`PolicyFileError`."""
    return parse_model(read_policy_bytes(path), path)


def read_policy_bytes(path: str) -> bytes:
    """Return the bytes of policy file ``path`` (to hash exactly what is then parsed).

    :raises PolicyFileError: missing, a folder, unreadable, empty, or a PyTorch file.
    """
    problem = policy_path_problem(path)
    if problem:
        raise PolicyFileError(path, None, problem)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        raise PolicyFileError(path, None, f'cannot be read ({exc.strerror})') from None
    if not data:
        raise PolicyFileError(path, None, 'is empty (0 bytes); truncated or never written')
    if data[:4] == TORCH_ZIP:
        raise PolicyFileError(path, None, 'is a PyTorch file (a checkpoint or best_actor.pt), '
                              'not an exported policy; `symphony export '
                              f'{path} -o policy.onnx` makes one')
    return data


def parse_model(data: bytes, path: str) -> onnx.ModelProto:
    """Parse the bytes of an ONNX file read from ``path`` (named in errors).

    :raises PolicyFileError: bytes that are not an ONNX model.
    """
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise PolicyFileError(path, None, f'is not an ONNX model or is truncated '
                              f'({len(data)} bytes that do not parse)') from None
    if not model.graph.node or not model.opset_import or model.ir_version <= 0:
        raise PolicyFileError(path, None, f'is not an ONNX model ({len(data)} bytes with no '
                              'graph, opset or IR version)')
    return model


def load_contract(path: str) -> PolicyContract:
    """Read the contract of an exported policy without starting a session (for inspection).

    :raises PolicyFileError: missing, truncated or non-ONNX file.
    :raises ContractError: missing, newer-format or malformed metadata.
    """
    model = load_model(path)
    return read_contract({p.key: p.value for p in model.metadata_props}, path)


__all__ = ['load_contract', 'load_model', 'parse_model', 'read_policy_bytes']
