"""A tiny untrained G1 velocity policy, exported the way `symphony export` writes one."""

from __future__ import annotations

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _run_builder():
    """Return the policy tests' run builder (a module named conftest cannot be imported)."""
    spec = importlib.util.spec_from_file_location(
        'policy_run_builder', os.path.join(HERE, '..', 'policy', 'conftest.py'))
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


def rewrite_contract(src: str, dst: str, edit) -> None:
    """Copy an exported file with its contract JSON replaced by ``edit(json_text)``."""
    _run_builder().rewrite_contract(src, dst, edit)


def export_g1_policy(folder: str, seed: int = 0, obs_spec: str = 'velocity_gait') -> str:
    """Write a run folder for velocity:g1 with a random actor and export it; return the ONNX.

    ``obs_spec``: 'velocity_gait' (the G1 file's task: with the gait clock) or 'velocity'.
    """
    builder = _run_builder()
    from symphony_ros.policy.export import export_policy
    from symphony_ros.robot import get_robot
    from symphony_ros.robot.obs_specs import get_obs_spec
    run = os.path.join(folder, f'g1_run_{obs_spec}')
    robot = get_robot('g1')
    builder.make_run(run, 'velocity:g1', get_obs_spec(obs_spec, robot).dim, robot.n_joints,
                     obs_spec=obs_spec, seed=seed)
    return export_policy(run, os.path.join(folder, f'g1_{obs_spec}.onnx')).path
