"""Sim-to-sim parity: a policy through ROS in lockstep vs the same policy in process.

The deploy graph (mujoco_sim_node -> policy_node -> watchdog_node -> sim, lockstep) runs the
shipped policy for a few episodes; the in-process evaluation runs the same ONNX file on
Gymnasium's Humanoid-v4 from the same initial states (the sim seeds episode k as
``reset(seed=seed + k)``). Through ROS the return must be >= 95% of the in-process one.

The watchdog runs with the checks that change physics relaxed (:func:`parity_watchdog`):
a policy that tilts past 0.8 rad or pushes a joint into its soft limit gets its torque cut,
which is the watchdog doing its job, not a plumbing error this test is after.
"""

import os

import numpy as np
import pytest
from launch_helpers import parity_watchdog

from symphony_ros import paths
from symphony_ros.sim.episodes import EPISODE_LINE

pytestmark = pytest.mark.ros

EPISODES = 2
SEED = 10_000
"""Sim seed; the in-process evaluation's episode k uses seed + k as well."""


def parity_policy() -> str:
    """The shipped policy (override with SYMPHONY_PARITY_POLICY to try another)."""
    return os.environ.get('SYMPHONY_PARITY_POLICY', paths.default_policy_path())


def in_process(policy_path: str, episodes: int, seed: int):
    from symphony_ros.core.envs import make_env
    from symphony_ros.core.evaluation import EVAL_SEED_OFFSET, evaluate
    from symphony_ros.policy.runtime import OnnxPolicy
    policy = OnnxPolicy(policy_path)
    env = make_env('Humanoid-v4', policy.contract.observation.name)
    return evaluate(env, policy.act, episodes, seed - EVAL_SEED_OFFSET)


def test_lockstep_deploy_reaches_95_percent_of_the_in_process_return(launcher, tmp_path):
    policy = parity_policy()
    assert os.path.isfile(policy), f'no policy at {policy}'
    relaxed = parity_watchdog(tmp_path)
    la = launcher('deploy', 'robot:=sim', 'timing:=lockstep', f'episodes:={EPISODES}',
                  f'seed:={SEED}', f'policy:={policy}', f'watchdog_config:={relaxed}')
    assert la.finish(timeout=300) == 0, la.text
    # A tick that waited out lockstep_timeout stepped with zero torque: not the policy's run.
    assert 'lockstep: no command answered' not in la.text, la.text
    ros = [(int(k), float(r), int(n)) for k, r, n, _ in EPISODE_LINE.findall(la.text)]
    assert [k for k, _, _ in ros] == list(range(EPISODES)), la.text
    ref = in_process(policy, EPISODES, SEED)
    ros_mean, ref_mean = np.mean([r for _, r, _ in ros]), np.mean(ref.returns)
    print(f'\nlockstep parity over {EPISODES} episodes: ROS {ros_mean:.1f} '
          f'(lengths {[n for _, _, n in ros]}), in process {ref_mean:.1f} '
          f'(lengths {ref.lengths}), ratio {ros_mean / ref_mean:.3f}')
    assert ros_mean >= 0.95 * ref_mean, (ros, ref)
