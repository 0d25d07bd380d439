"""Where the package's data lives (models/, urdf/, config/, launch/), in every install layout.

One helper for three layouts, tried in this order:

1. the source tree or an editable install: the repository root next to the ``symphony_ros/``
   package (recognised by its ``package.xml``);
2. a colcon (ament) install: ``get_package_share_directory('symphony_ros')``, which finds the
   package only when its prefix is on ``AMENT_PREFIX_PATH`` (a sourced workspace);
3. a plain ``pip install``: setup.py's data_files land in ``<sys.prefix>/share/symphony_ros``.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

PACKAGE = 'symphony_ros'
DEFAULT_POLICY = 'humanoid_v4_symphony.onnx'
"""File name of the package's default policy, under ``models/``."""
SHIPPED_POLICIES = {'humanoid': DEFAULT_POLICY, 'g1': 'g1_velocity_symphony_sym.onnx'}
"""Robot name -> the policy a deploy or demo takes for it when given none, under ``models/``.

For the G1, the file that falls least under ``symphony stress`` and walks closest to its
command (README, "Shipped policies"); none passes the stress gate."""


def _source_tree() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ament_share() -> Optional[str]:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:  # not a ROS environment
        return None
    try:
        return get_package_share_directory(PACKAGE)
    except (LookupError, OSError):  # PackageNotFoundError; OSError: AMENT_PREFIX_PATH unset
        return None


def _pip_share() -> str:
    return os.path.join(sys.prefix, 'share', PACKAGE)


def share_dir() -> str:
    """Return the package's share directory: the first layout that has ``package.xml``.

    :raises FileNotFoundError: listing every place searched.
    """
    searched = []
    for find in (_source_tree, _ament_share, _pip_share):
        path = find()
        if path is None:
            continue
        if os.path.isfile(os.path.join(path, 'package.xml')):
            return path
        searched.append(path)
    raise FileNotFoundError(f'{PACKAGE} share directory not found; searched: '
                            f'{", ".join(searched)} and AMENT_PREFIX_PATH')


def share_path(*parts: str, must_exist: bool = True) -> str:
    """Absolute path of ``parts`` under the share directory, e.g. ``('urdf', 'humanoid.urdf')``.

    :param must_exist: raise if the file is missing (False: return the path anyway).
    :raises FileNotFoundError: naming the missing file.
    """
    path = os.path.join(share_dir(), *parts)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(f'{os.path.join(*parts)} not found in {share_dir()}')
    return path


def config_path(name: str, must_exist: bool = True) -> str:
    """Return the path of a file under ``config/`` (e.g. ``controllers.yaml``)."""
    return share_path('config', name, must_exist=must_exist)


def urdf_path(robot: str = 'humanoid', must_exist: bool = True) -> str:
    """Return the path of a robot's URDF, ``urdf/<robot>.urdf``."""
    return share_path('urdf', f'{robot}.urdf', must_exist=must_exist)


def shipped_policy_path(robot: str) -> Optional[str]:
    """Return the path of ``robot``'s shipped policy, or None when none ships for it."""
    name = SHIPPED_POLICIES.get(robot)
    return share_path('models', name, must_exist=False) if name else None


def default_policy_path() -> str:
    """Return the default policy's path, ``models/humanoid_v4_symphony.onnx`` (may be absent)."""
    return share_path('models', DEFAULT_POLICY, must_exist=False)


def policy_for(path: Optional[str], robot: str) -> str:
    """Return ``path``, or when empty the policy shipped for ``robot``.

    A deploy that names only its robot gets that robot's policy: the humanoid's would fail
    the G1's contract check (another control period, other joints).

    :raises ValueError: ``path`` is empty and no policy ships for ``robot``.
    """
    if path:
        return path
    shipped = shipped_policy_path(robot)
    if shipped is None:
        raise ValueError(f'no policy ships for robot {robot!r} (shipped: '
                         f'{", ".join(sorted(SHIPPED_POLICIES))}): give one with policy:=FILE')
    return shipped


def policy_path_problem(path: str) -> Optional[str]:
    """Return what keeps ``path`` from being a policy file to read, or None.

    A run folder is the likeliest mistake (a policy is exported from it), so it gets the
    command that makes one.
    """
    if os.path.isdir(path):
        return (f'is a folder; expected an .onnx file (a run folder? `symphony export {path} '
                '-o policy.onnx` makes one)')
    if not os.path.exists(path):
        return 'no such file'
    return None
