"""trainer_node as a real process over DDS: services, topics, the end, SIGINT, bad parameters.

The trained policy is a (tiny) Humanoid-v4 one, so policy_node can load it: that is the
hand-over the train graph exists for.
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from process_helpers import ChildProcess
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

pytestmark = pytest.mark.ros

# Small enough to learn for a few thousand steps in ~15 s on a busy 2-core machine.
TINY = ('hidden_dim:=32', 'critic_heads:=8', 'batch_size:=32', 'updates_per_step:=1',
        'explore_steps:=256', 'capacity:=4000', 'checkpoint_every:=100000', 'device:=cpu',
        'tensorboard:=false', 'diagnostics_period:=0.2')


@pytest.fixture
def env(ros_env):
    # One torch thread: a second one on this 2-core machine slows tiny updates ~10x.
    return dict(ros_env, OMP_NUM_THREADS='1')


@pytest.fixture
def start(env):
    started = []

    def run(module, *params):
        argv = [sys.executable, '-m', f'symphony_ros.nodes.{module}', '--ros-args']
        for p in params:
            argv += ['-p', p]
        started.append(ChildProcess(argv, env))
        return started[-1]
    yield run
    for p in started:
        p.stop()


class Probe:
    """Subscriptions to the trainer's topics and clients of its services."""

    def __init__(self):
        rclpy.init()
        self.node = Node('trainer_probe')
        self.returns, self.diags = [], []
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(Float64, '/symphony/train/test_return',
                                      lambda m: self.returns.append(m.data), latched)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.pause = self.node.create_client(SetBool, '/trainer_node/pause')
        self.save = self.node.create_client(Trigger, '/trainer_node/save_checkpoint')
        self.export = self.node.create_client(Trigger, '/trainer_node/export_policy')

    def _on_diag(self, msg):
        for s in msg.status:
            if s.name == 'symphony/trainer_node':
                self.diags.append({kv.key: kv.value for kv in s.values})

    def spin(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def call(self, client, request, timeout=30.0):
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
        assert future.done(), f'{client.srv_name}: no answer in {timeout} s'
        return future.result()

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown()


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def test_trains_answers_services_and_exports_a_policy_the_policy_node_loads(
        tmp_path, start, probe):
    run = tmp_path / 'run'
    trainer = start('trainer_node', 'env:=Humanoid-v4', 'steps:=1600', 'eval_every:=400',
                    'eval_episodes:=2', f'run_dir:={run}', 'seed:=1', *TINY)
    assert probe.pause.wait_for_service(timeout_sec=60), trainer.text

    # Pause: the step count stops moving, and diagnostics say so.
    resp = probe.call(probe.pause, SetBool.Request(data=True))
    assert resp.success, resp.message
    held = int(re.fullmatch(r'paused at step (\d+)', resp.message).group(1))
    probe.spin(0.3)      # reports sent before the pause took effect may still be queued
    probe.diags.clear()
    probe.spin(1.0)
    assert len(probe.diags) >= 3
    assert {(d['step'], d['paused'], d['phase']) for d in probe.diags} == {
        (str(held), 'true', 'paused')}

    resp = probe.call(probe.save, Trigger.Request())
    assert resp.success and resp.message.endswith(f'ckpt_{held:09d}.pt')
    assert os.path.isfile(resp.message)

    resp = probe.call(probe.export, Trigger.Request())
    assert resp.success and resp.message == str(run / 'policy.onnx'), resp.message
    robot = get_robot()
    policy = OnnxPolicy(resp.message, robot_joint_names=robot.joint_names,
                        expected_dt=robot.control_dt)
    assert policy.contract.training_steps <= held
    assert np.all(np.isfinite(policy.act(np.zeros(policy.contract.obs_dim))))

    resp = probe.call(probe.pause, SetBool.Request(data=False))
    assert resp.success and resp.message == f'resumed at step {held}'

    # To the end: one test return per evaluation, then a final export and exit 0.
    deadline = time.monotonic() + 90
    while trainer.proc.poll() is None and time.monotonic() < deadline:
        probe.spin(0.2)
    assert trainer.finish(timeout=5) == 0, trainer.text
    probe.spin(0.5)
    rows = list(csv.DictReader(open(run / 'metrics.csv')))
    assert [int(r['step']) for r in rows] == [400, 800, 1200, 1600]
    assert probe.returns == [float(r['test_return_mean']) for r in rows]
    assert any(d['phase'] == 'learning' and float(d['steps_per_s']) > 0 for d in probe.diags)
    assert 'final export: best actor' in trainer.text
    final = OnnxPolicy(str(run / 'policy.onnx'), robot_joint_names=robot.joint_names,
                       expected_dt=robot.control_dt).contract
    assert final.test_return == pytest.approx(max(probe.returns))
    assert final.training_steps in (400, 800, 1200, 1600)

    deployed = start('policy_node', f'policy_path:={run / "policy.onnx"}')
    dims = f'{get_obs_spec("humanoid_v4_full").dim}\\), {robot.n_joints} joints'
    deployed.wait_for(r'policy .*policy\.onnx: obs humanoid_v4_full \(' + dims)
    time.sleep(0.5)
    assert deployed.proc.poll() is None, deployed.text


def test_sigint_writes_a_checkpoint_and_exits_0(tmp_path, start, probe):
    run = tmp_path / 'run'
    trainer = start('trainer_node', 'env:=InvertedPendulum-v4', 'steps:=100000',
                    f'run_dir:={run}', *TINY)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(int(d['step']) > 300 for d in probe.diags):
        probe.spin(0.1)
    assert any(int(d['step']) > 300 for d in probe.diags), trainer.text
    trainer.proc.send_signal(signal.SIGINT)
    assert trainer.finish(timeout=30) == 0, trainer.text
    saved = re.search(r'checkpoint (\S+ckpt_\d{9}\.pt)', trainer.text)
    assert saved and os.path.isfile(saved.group(1)), trainer.text


def test_bad_parameter_is_one_line_and_exit_2(tmp_path, env):
    proc = subprocess.run(
        [sys.executable, '-m', 'symphony_ros.nodes.trainer_node', '--ros-args', '-p',
         'env:=NoSuchEnv-v0', '-p', f'run_dir:={tmp_path / "run"}'],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("trainer_node: bad parameter: unknown env 'NoSuchEnv-v0'")
    assert proc.stderr.count('\n') == 1
    assert not (tmp_path / 'run').exists()


def test_symphony_launch_train_runs_the_node_to_completion(tmp_path, env):
    # The train graph's arguments are TrainConfig's, here from a recipe file; keep steps
    # under its warm-up (no updates), and the final evaluation and export still run.
    run = tmp_path / 'run'
    recipe = tmp_path / 'pendulum.yaml'
    recipe.write_text('env: InvertedPendulum-v4\nsteps: 300\neval-episodes: 1\n'
                      'device: cpu\nhidden-dim: 32\nexplore-steps: 1000\n'
                      'stages:\n  - at: 150\n    lr: 0.0002\n')

    def launch(*args):
        launcher = ChildProcess([sys.executable, '-m', 'symphony_ros.cli.launch_cmd', 'train',
                                 f'recipe:={recipe}', f'run_dir:={run}', *args], env)
        try:
            assert launcher.finish(timeout=120) == 0, launcher.text
        finally:
            launcher.stop()
        assert '[launch] trainer_node exited with code 0' in launcher.text
        return launcher.text

    text = launch()
    assert re.search(r'\[trainer_node\] .*final export: best actor of step 300', text)
    assert re.search(r'\[trainer_node\] .*on InvertedPendulum-v4: 300 steps, h=32', text)
    assert OnnxPolicy(str(run / 'policy.onnx')).contract.training_steps == 300
    # the recipe's stage, taken by the node at its step (a checkpoint, then a resume under it)
    assert re.search(r'\[trainer_node\] .*stage 1 of 1 at step 150: lr 0.0002: checkpoint '
                     r'\S+ckpt_000000150\.pt, resumed under it', text)
    with open(run / 'config.json') as fh:
        stored = json.load(fh)
    assert [e['step'] for e in stored['train_config']['curriculum']] == [150]
    assert stored['symphony_config']['lr'] == 0.0002
    # The same launch with resume:=true and more steps continues the run.
    text = launch('resume:=true', 'steps:=450')
    assert re.search(r'\[trainer_node\] .*: 450 steps, h=32.*resumed at step 300', text)
    assert re.search(r'\[trainer_node\] .*finished 450 steps; checkpoint \S+ckpt_000000450', text)
