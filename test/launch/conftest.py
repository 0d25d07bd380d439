"""Fixtures of the launch tests: launcher processes, a small exported policy."""

import importlib.util
import os
import sys

import pytest
from launch_helpers import Launcher
from process_helpers import Started

from symphony_ros.robot.description import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

OBS_DIM = get_obs_spec('humanoid_v4_full').dim
"""The humanoid's full Humanoid-v4 observation, from its spec."""
N_JOINTS = get_robot('humanoid').n_joints


@pytest.fixture
def launcher(ros_env):
    """Start launchers; any still running at the end of the test is killed."""
    started = Started()

    def start(*args: str, full_cli: bool = False) -> Launcher:
        entry = (['-m', 'symphony_ros.cli.main', 'launch'] if full_cli
                 else ['-m', 'symphony_ros.cli.launch_cmd'])
        return started.add(Launcher([sys.executable, *entry, *args], ros_env))

    yield start
    started.kill_all()


@pytest.fixture(scope='session')
def policy_file(tmp_path_factory):
    """A small exported Humanoid-v4 policy (random weights) with its contract."""
    import torch

    from symphony_ros.core.config import SymphonyConfig, TrainConfig
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import save_best_actor
    from symphony_ros.policy.export import export_policy
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp('policy_run')
    info = {'train_config': TrainConfig(env='Humanoid-v4').to_dict(), 'obs_dim': OBS_DIM,
            'symphony_config': SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
            'act_dim': N_JOINTS, 'obs_spec': 'humanoid_v4_full', 'step': 0,
            'test_return': 0.0}
    save_best_actor(str(run), Actor(OBS_DIM, N_JOINTS, 32), info)
    return export_policy(str(run), str(run / 'policy.onnx')).path


@pytest.fixture(scope='session')
def policy_contract(policy_file):
    """The contract read back from the exported policy's metadata."""
    import onnx

    from symphony_ros.policy.contract import read_contract
    meta = {p.key: p.value for p in onnx.load(policy_file).metadata_props}
    return read_contract(meta, policy_file)


@pytest.fixture(scope='session')
def g1_policy(tmp_path_factory):
    """A tiny untrained G1 velocity policy (test/deploy/g1_policy.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        'g1_policy', os.path.join(here, '..', 'deploy', 'g1_policy.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.export_g1_policy(str(tmp_path_factory.mktemp('g1')))
