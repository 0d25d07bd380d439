"""``symphony launch`` in-process: --dry-run output, --show-args, one-line errors (exit 2)."""

import shlex
import signal
import subprocess
import sys
import time

import pytest

from symphony_ros.cli.main import main


def run(capsys, *argv):
    code = main(['launch', *argv])
    out, err = capsys.readouterr()
    return code, out, err


def commands(out):
    """Dry-run output -> {name: argv} for the processes that would start."""
    found, name = {}, None
    for line in out.splitlines():
        if line.startswith('# ') and not line.startswith('#   '):
            name = line[2:].split(' ', 1)[0]
        elif not line.startswith('#') and name:
            found[name] = shlex.split(line)
    return found


def test_dry_run_prints_each_node_with_ros_args(capsys):
    code, out, _ = run(capsys, 'deploy', 'robot:=sim', 'odom_topic:=/est/odom', '--dry-run')
    assert code == 0
    cmds = commands(out)
    assert list(cmds) == ['mujoco_sim_node', 'policy_node', 'watchdog_node',
                          'robot_state_publisher']
    policy = cmds['policy_node']
    assert policy[:3] == [sys.executable, '-m', 'symphony_ros.nodes.policy_node']
    ros = policy[policy.index('--ros-args'):]
    assert ros[1:3] == ['-r', '__node:=policy_node']
    assert ['-r', 'odom:=/est/odom'] == ros[ros.index('odom:=/est/odom') - 1:][:2]
    # The temporary parameter folder does not exist after a dry run: no path into it.
    assert ros[ros.index('--params-file') + 1] == '$PARAMS/policy_node.yaml'
    assert 'symphony_launch_' not in out and '# $PARAMS: a temporary folder' in out
    assert "#   policy_path: '" in out and 'robot_description: <' in out


def test_dry_run_of_the_train_graph(capsys):
    code, out, _ = run(capsys, 'train', 'steps:=5000', 'device:=cpu', '--dry-run')
    assert code == 0
    assert list(commands(out)) == ['trainer_node']
    assert '#   steps: 5000' in out and "#   device: 'cpu'" in out
    assert 'episode_limit' not in out  # None: left to the node


def test_show_args_lists_defaults_and_choices(capsys):
    code, out, _ = run(capsys, 'deploy', '--show-args')
    assert code == 0
    assert "  robot:='sim' [sim|real|gazebo]" in out
    assert "  joint_states_topic:='/joint_states'" in out


def test_bad_arguments_exit_2_with_one_line(capsys):
    for argv, message in (
            (['deploy', 'robot:=moon'], 'robot:=moon: expected one of sim|real|gazebo'),
            (['deploy', 'robot=sim'], "expected name:=value, got 'robot=sim'"),
            (['train', 'steps:=many'], 'steps:=many: expected an integer'),
            (['nosuch'], "unknown graph 'nosuch'")):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ''
        assert err.startswith(f'symphony launch: error: {message}')
        assert err.count('\n') == 1


def test_missing_policy_file_is_refused_before_starting(capsys, tmp_path):
    missing = tmp_path / 'none.onnx'
    code, out, err = run(capsys, 'deploy', f'policy:={missing}')
    assert code == 2
    assert err == f'symphony launch: error: policy:={missing}: file not found\n'
    code, out, err = run(capsys, 'deploy', f'policy:={tmp_path}')
    assert code == 2
    assert err == f'symphony launch: error: policy:={tmp_path}: is a folder, expected a file\n'


@pytest.mark.parametrize('argv, message', [
    (['deploy', 'ticks:=-5'], 'mujoco_sim_node: max_ticks: expected a number >= 0, got -5'),
    (['deploy', 'seed:=-1'], 'mujoco_sim_node: seed: expected a number 0 to'),
    (['deploy', 'episodes:=-2'], 'mujoco_sim_node: max_episodes: expected a number >= 0'),
    (['deploy', 'command_delay:=-0.01'], 'mujoco_sim_node: command_delay: expected a number 0 '
     'to 1, got -0.01'),
    (['deploy', 'push_velocity:=-1'], 'mujoco_sim_node: push_velocity: expected a number 0 '
     'to 5, got -1.0'),
    (['deploy', 'timing:=lockstep', 'command_delay:=0.02'],
     'mujoco_sim_node: command_delay: 0.02 s needs timing realtime'),
    (['train', 'steps:=0'], 'trainer_node: steps: expected a number >= 1, got 0'),
    (['train', 'batch_size:=-3'], 'trainer_node: batch_size must be positive'),
    (['train', 'eval_episodes:=0'], 'trainer_node: eval_episodes: expected a number >= 1'),
    (['train', 'env:=Nope-v1'], "trainer_node: unknown env 'Nope-v1'"),
    (['train', 'lr:=-1.0'], 'trainer_node: lr must be positive'),
])
@pytest.mark.parametrize('dry', [True, False])
def test_values_a_node_refuses_are_refused_before_anything_starts(capsys, argv, message, dry):
    """The node's own rules (its config classes) run on the values it would start with."""
    code, out, err = run(capsys, *argv, *(['--dry-run'] if dry else []))
    assert code == 2 and out == '', out
    assert err.startswith(f'symphony launch: error: {message}'), err
    assert err.count('\n') == 1 and '(the node would refuse to start)' in err


def test_a_policy_file_the_policy_node_refuses_is_caught_before_start(capsys, tmp_path):
    import torch
    pt = tmp_path / 'best_actor.pt'
    torch.save({'kind': 'actor'}, pt)
    code, out, err = run(capsys, 'deploy', f'policy:={pt}', '--dry-run')
    assert code == 2 and out == '' and err.startswith('symphony launch: error: policy_node: ')
    assert 'PyTorch file' in err and err.count('\n') == 1, err


def test_a_watchdog_file_value_the_watchdog_refuses_is_caught(capsys, tmp_path):
    bad = tmp_path / 'wd.yaml'
    bad.write_text('watchdog_node:\n  ros__parameters:\n    max_tilt: -1.0\n')
    code, _, err = run(capsys, 'deploy', f'watchdog_config:={bad}', '--dry-run')
    assert code == 2 and 'watchdog_node: max_tilt must be finite and > 0' in err, err


@pytest.mark.parametrize('node', ['policy_node', 'watchdog_node', 'mujoco_sim_node',
                                  'state_estimator_node'])
def test_a_node_stopped_while_importing_exits_quietly(node):
    """Ctrl-C on a graph still starting: no KeyboardInterrupt traceback per node."""
    proc = subprocess.Popen([sys.executable, '-m', f'symphony_ros.nodes.{node}'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Wait until the node's module imports have begun (numpy's core is mapped; the nodes
    # package came before it), then interrupt while rclpy, mujoco... are still loading.
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        with open(f'/proc/{proc.pid}/maps') as f:
            if '_multiarray_umath' in f.read():
                break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:    # it ran on: not left behind to disturb the next tests
            proc.kill()
            proc.wait()
    assert 'Traceback' not in out and 'KeyboardInterrupt' not in out, out
    assert proc.returncode in (0, 130), (proc.returncode, out)


def test_a_sim_run_without_a_finished_episode_says_so_not_nan(ros_env):
    """A short realtime run (ticks:=N below the time limit) ends without 'mean return nan'."""
    done = subprocess.run([sys.executable, '-m', 'symphony_ros.nodes.mujoco_sim_node',
                           '--ros-args', '-p', 'max_ticks:=5'], env=ros_env,
                          capture_output=True, text=True, timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert 'done: 5 steps, 0 episodes, no complete episode, episode 0 unfinished after 5 ' \
        'steps: return ' in text, text
    assert 'nan' not in text
