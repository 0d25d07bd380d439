"""A tiny untrained G1 velocity policy, exported the way `symphony export` writes one."""

from __future__ import annotations

import importlib.util
import os
from shipped_models import G1_FIRST

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


def export_history_student(folder: str, frames: int = 3) -> str:
    """Export a student of the first G1 file taking its last ``frames`` observations.

    Its first layer reads the blend 0.7, 0.2, 0.1 (then 0) of the frames with the teacher's
    weights: the G1 stays up, and every frame moves the action. No learning: a few seconds.
    """
    import torch

    from symphony_ros.distill.config import DistillConfig
    from symphony_ros.distill.dagger import Distiller
    from symphony_ros.policy.export import export_policy
    ranges = os.path.join(folder, 'delay.yaml')
    with open(ranges, 'w', encoding='utf-8') as fh:
        fh.write('delay_s: [0.02, 0.02]\ndelay_jitter_steps: [0, 0]\n')
    d = Distiller(DistillConfig(randomize=ranges, knobs='delay_s', history=frames,
                                steps_per_round=100, updates_per_round=0),
                  G1_FIRST)
    d.collect(100)
    n = d.source.actor.obs_dim
    blend = [0.7, 0.2, 0.1] + [0.0] * frames
    with torch.no_grad():
        w = d.student.net[0].weight
        first = w[:, :n].clone()
        for k in range(frames):
            w[:, k * n:(k + 1) * n] = blend[k] * first
    path = os.path.join(folder, f'student_h{frames}.onnx')
    export_policy(d.student_source(), path, observations=d.parity_observations())
    return path
