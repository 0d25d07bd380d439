"""The stress gate: a policy going to a real robot without a passing stress report is flagged."""

import pytest
import torch

from symphony_ros.cli.doctor_cmd import OK, WARN, check_stress
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import save_best_actor
from symphony_ros.deploy.config import PolicyNodeConfig
from symphony_ros.graph import deploy_graph
from symphony_ros.policy.export import export_policy
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec
from symphony_ros.stress.gate import deploy_warning, latency_warning

FAILED = {'verdict': 'FAIL', 'failed': ['delay_1', 'push_0.5'], 'max_fall_rate': 0.1,
          'scope': 'training', 'episodes': 10, 'seed': 0, 'weights_sha256': 'x',
          'fall_rate': {'nominal': 0.0, 'delay_1': 0.9, 'push_0.5': 0.8}}
PASSED = dict(FAILED, verdict='PASS', failed=[], fall_rate={'nominal': 0.0})


def test_no_report_on_a_real_robot_names_the_file_and_the_commands():
    w = deploy_warning('models/p.onnx', None, 'real')
    text = str(w)
    assert text.startswith('STRESS GATE: policy models/p.onnx') and 'robot:=real' in text
    assert 'without a stress report' in w.problem
    assert '`symphony stress models/p.onnx`' in w.fix
    assert 'symphony export models/p.onnx --stress models/p_stress --force' in w.fix


def test_failed_verdict_names_the_failed_conditions():
    w = deploy_warning('p.onnx', FAILED, 'real')
    assert 'FAILED' in w.problem and 'delay_1, push_0.5' in w.problem and '10%' in w.problem
    assert '--randomize default' in w.fix and '--stress' in w.fix
    # A condition failed on its tracking (--max-tracking-error) is named for that, apart.
    off = dict(FAILED, failed=['delay_1', 'nominal'], failed_tracking=['nominal'],
               max_tracking_error=0.15)
    problem = deploy_warning('p.onnx', off, 'real').problem
    assert problem.endswith('(fall rate above 10% in: delay_1; tracking error per stride above '
                            '0.15 m/s in: nominal)'), problem
    turn = dict(FAILED, failed=['command_turn_0.5'], failed_yaw=['command_turn_0.5'],
                max_yaw_error=0.2)
    problem = deploy_warning('p.onnx', turn, 'real').problem
    assert problem.endswith('(yaw-rate error per stride above 0.2 rad/s in: '
                            'command_turn_0.5)'), problem


@pytest.mark.parametrize('stress, target', [(PASSED, 'real'), (None, 'sim'), (FAILED, 'sim'),
                                            (None, 'gazebo'), (FAILED, 'gazebo')])
def test_passing_or_simulated_is_silent(stress, target):
    assert deploy_warning('p.onnx', stress, target) is None


def test_the_deploy_graph_tells_policy_node_its_target():
    for robot in ('sim', 'real', 'gazebo'):
        g = deploy_graph({'robot': robot})
        node = next(e for e in g.active() if e.name == 'policy_node')
        assert node.parameters['deploy_target'] == robot
    assert PolicyNodeConfig().deploy_target == 'real'   # by hand: assume hardware
    with pytest.raises(ValueError, match="deploy_target: expected one of sim, real, gazebo, "
                       "got 'robot'"):
        PolicyNodeConfig(deploy_target='robot')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A small Humanoid-v4 policy exported without, with a failed and with a passed report."""
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp('gate_run')
    obs_dim, n = get_obs_spec('humanoid_v4_full').dim, get_robot('humanoid').n_joints
    info = {'train_config': TrainConfig(env='Humanoid-v4').to_dict(), 'obs_dim': obs_dim,
            'symphony_config': SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
            'act_dim': n, 'obs_spec': 'humanoid_v4_full', 'step': 0, 'test_return': 0.0}
    save_best_actor(str(run), Actor(obs_dim, n, 32), info)
    bare = export_policy(str(run), str(run / 'bare.onnx'), samples=20)
    sha = bare.contract.weights_sha256
    out = {'bare': bare.path}
    for name, summary in (('failed', FAILED), ('passed', PASSED)):
        out[name] = export_policy(str(run), str(run / f'{name}.onnx'), samples=20,
                                  stress=dict(summary, weights_sha256=sha)).path
    return out


def test_doctor_warns_for_a_real_robot_only(exported):
    c = check_stress(exported['bare'], 'humanoid', 'real')
    assert c.level == WARN and exported['bare'] in c.detail and 'symphony stress' in c.hint
    c = check_stress(exported['failed'], 'humanoid', 'real')
    assert c.level == WARN and 'delay_1, push_0.5' in c.detail
    assert check_stress(exported['passed'], 'humanoid', 'real').level == OK
    assert check_stress(exported['failed'], 'humanoid', 'sim').level == OK
    assert check_stress(exported['bare'], 'humanoid', 'gazebo').level == OK


def test_a_loop_slower_than_the_latency_budget_is_named_with_both_figures():
    budgeted = dict(PASSED, latency_budget_ms=10.0)
    text = latency_warning(budgeted, 12_500.0)
    assert text.startswith('LATENCY: state in -> command out p99 12.5 ms exceeds')
    assert 'latency budget of 10 ms' in text
    assert latency_warning(budgeted, 9_000.0) is None
    # Unknown budget (no latency conditions ran, or none held) or no measurement: silent.
    assert latency_warning(PASSED, 50_000.0) is None
    assert latency_warning(dict(PASSED, latency_budget_ms=None), 50_000.0) is None
    assert latency_warning(None, 50_000.0) is None
    assert latency_warning(budgeted, None) is None
    assert latency_warning(budgeted, float('nan')) is None   # no tick measured yet


def test_inspect_says_the_thresholds_the_carried_verdict_held():
    from symphony_ros.cli.inspect_cmd import _stress_line
    line = _stress_line(dict(FAILED, max_tracking_error=0.1, max_yaw_error=0.2,
                             failed=['command_turn_0.5'], scope='training', episodes=10))
    assert 'tracking error per stride <= 0.1 m/s and yaw-rate error per stride <= 0.2 ' \
           'rad/s in the training conditions, 10 episodes each; failed: command_turn_0.5' \
           in line, line
    assert 'yaw-rate' not in _stress_line(dict(FAILED, max_tracking_error=0.1))
