"""trainer_node drives a distributed run: the same parameters as `symphony train` flags."""

import csv
import sys

import pytest
from process_helpers import ChildProcess

from symphony_ros.policy.runtime import OnnxPolicy

pytestmark = pytest.mark.ros


@pytest.mark.slow   # about 30 s on the loaded 2-core machine
def test_trainer_node_trains_through_ray_collectors_and_exports(tmp_path, ros_env, ray_local):
    run = tmp_path / 'run'
    params = ['env:=InvertedPendulum-v4', 'steps:=300', 'eval_every:=150', 'eval_episodes:=1',
              'hidden_dim:=16', 'critic_heads:=4', 'batch_size:=16', 'capacity:=400',
              'explore_steps:=100', 'device:=cpu', 'tensorboard:=false', f'run_dir:={run}',
              'collectors:=1', 'chunk_steps:=32', f'ray_address:={ray_local}']
    argv = [sys.executable, '-m', 'symphony_ros.nodes.trainer_node', '--ros-args']
    for p in params:
        argv += ['-p', p]
    node = ChildProcess(argv, dict(ros_env, OMP_NUM_THREADS='1'))
    try:
        assert node.finish(timeout=120) == 0, node.text
    finally:
        node.stop()
    assert 'final export: best actor' in node.text
    rows = list(csv.DictReader(open(run / 'metrics.csv')))
    assert int(rows[-1]['step']) == 300 and 'collector_0_steps_per_s' in rows[-1]
    assert OnnxPolicy(str(run / 'policy.onnx')).contract.training_steps <= 300
