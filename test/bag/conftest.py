"""Fixtures of the bag tests: small exported policies, a recorded sim run, processes."""

import json

import onnx
import pytest
from process_helpers import ChildProcess, Started


def _export(root, seed: int, hidden: int = 32) -> str:
    import torch

    from symphony_ros.core.config import SymphonyConfig, TrainConfig
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import save_best_actor
    from symphony_ros.policy.export import export_policy
    torch.manual_seed(seed)
    run = root / f'run{seed}'
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.obs_specs import get_obs_spec
    obs_dim, act_dim = get_obs_spec('humanoid_v4_full').dim, get_robot('humanoid').n_joints
    info = {'train_config': TrainConfig(env='Humanoid-v4').to_dict(), 'obs_dim': obs_dim,
            'symphony_config': SymphonyConfig(hidden_dim=hidden, critic_heads=8).to_dict(),
            'act_dim': act_dim, 'obs_spec': 'humanoid_v4_full', 'step': 0, 'test_return': 0.0}
    save_best_actor(str(run), Actor(obs_dim, act_dim, hidden), info)
    return export_policy(str(run), str(root / f'policy{seed}.onnx')).path


@pytest.fixture(scope='session')
def policies(tmp_path_factory):
    """Two small exported Humanoid-v4 policies (random weights) and a reordered-joints one."""
    from symphony_ros.policy.contract import METADATA_KEY
    root = tmp_path_factory.mktemp('bag_policies')
    out = {'recorded': _export(root, 0), 'candidate': _export(root, 1)}
    model = onnx.load(out['candidate'])
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            contract = json.loads(p.value)
            names = contract['robot']['joint_names']
            contract['robot']['joint_names'] = names[1:] + names[:1]
            p.value = json.dumps(contract)
    out['other_joints'] = str(root / 'other_joints.onnx')
    onnx.save(model, out['other_joints'])
    return out


@pytest.fixture(scope='session')
def sim_bag(tmp_path_factory, policies):
    """A 300-tick sim run of the recorded policy, written by rosbags in sqlite3 storage."""
    from bag_fixtures import write_sim_bag
    path = str(tmp_path_factory.mktemp('sim_bag') / 'run')
    run = write_sim_bag(path, policies['recorded'], ticks=300, storage='sqlite3',
                        faults=(40,), info={'robot': 'humanoid',
                                            'policy': policies['recorded']})
    return run


@pytest.fixture
def procs():
    started = Started()
    yield lambda argv, env: started.add(ChildProcess(argv, env))
    started.kill_all()
