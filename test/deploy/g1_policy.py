"""A tiny untrained G1 velocity policy, exported the way `symphony export` writes one."""

from __future__ import annotations

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def export_g1_policy(folder: str, seed: int = 0) -> str:
    """Write a run folder for velocity:g1 with a random actor and export it; return the ONNX."""
    # The policy tests' run builder (a module named conftest cannot be imported by name).
    spec = importlib.util.spec_from_file_location(
        'policy_run_builder', os.path.join(HERE, '..', 'policy', 'conftest.py'))
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    from symphony_ros.policy.export import export_policy
    from symphony_ros.robot import get_robot
    run = os.path.join(folder, 'g1_run')
    robot = get_robot('g1')
    builder.make_run(run, 'velocity:g1', 96, robot.n_joints, seed=seed)
    return export_policy(run, os.path.join(folder, 'g1.onnx')).path
