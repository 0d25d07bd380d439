"""symphony_ros: train, export, deploy and evaluate Symphony humanoid controllers."""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so that `import symphony_ros` does not pull in onnxruntime.
    if name == 'OnnxPolicy':
        from .policy.runtime import OnnxPolicy
        return OnnxPolicy
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
