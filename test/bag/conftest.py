"""Fixtures of the bag tests: small exported policies, a recorded sim run, processes."""

import json
import subprocess
import threading
import time

import onnx
import pytest


def _export(root, seed: int, hidden: int = 32) -> str:
    import torch

    from symphony_ros.core.config import SymphonyConfig, TrainConfig
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import save_best_actor
    from symphony_ros.policy.export import export_policy
    torch.manual_seed(seed)
    run = root / f'run{seed}'
    info = {'train_config': TrainConfig(env='Humanoid-v4').to_dict(), 'obs_dim': 376,
            'symphony_config': SymphonyConfig(hidden_dim=hidden, critic_heads=8).to_dict(),
            'act_dim': 17, 'obs_spec': 'humanoid_v4_full', 'step': 0, 'test_return': 0.0}
    save_best_actor(str(run), Actor(376, 17, hidden), info)
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


class Proc:
    """A child process whose output is collected line by line."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))

    @property
    def text(self):
        return '\n'.join(self.lines)

    def wait_for(self, needle, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in list(self.lines)):
                return
            assert self.proc.poll() is None, self.text
            time.sleep(0.02)
        raise AssertionError(f'{needle!r} not seen:\n{self.text}')

    def finish(self, timeout=20.0):
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._t.join(timeout=5)
        return code


@pytest.fixture
def procs():
    started = []
    yield lambda argv, env: started.append(Proc(argv, env)) or started[-1]
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
