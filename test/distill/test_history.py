"""A student that sees its last few observations: distilled, exported, deployed, stressed."""

import os
import sys

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.mujoco_state import MujocoStateReader
from symphony_ros.robot.observations import ObservationBuilder
from symphony_ros.stress.run import Job, run_matrix

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'deploy'))
from g1_policy import export_history_student  # noqa: E402
from shipped_models import G1_FIRST, G1_SYM  # noqa: E402

TINY = ['--rounds', '1', '--steps-per-round', '100', '--updates-per-round', '0']


@pytest.fixture(scope='module')
def student(tmp_path_factory):
    """A 3-frame student of the first shipped G1 policy whose older frames really steer it."""
    return export_history_student(str(tmp_path_factory.mktemp('history')))


def _states(n):
    """``n`` states of the G1 falling from its home pose, read as a robot publishes them."""
    import mujoco

    from symphony_ros.robot.model import build_model, home_qpos
    robot = get_robot('g1')
    model = build_model(robot)
    data = mujoco.MjData(model)
    data.qpos[:] = home_qpos(model, robot)
    reader, out = MujocoStateReader(model, robot), []
    for _ in range(n):
        mujoco.mj_step(model, data, nstep=4)
        out.append(reader.read(data))
    return out


def test_the_contract_holds_the_history_and_inspect_says_it(student, capsys):
    teacher, c = OnnxPolicy(G1_FIRST).contract, OnnxPolicy(student).contract
    assert c.observation.history == 3 and c.observation.terms == teacher.observation.terms
    assert c.obs_dim == 3 * teacher.obs_dim
    assert c.observation.term_at(teacher.obs_dim + 2) == 'imu_angular_velocity (1 steps ago)'
    assert main(['inspect', student]) == 0
    assert f'the last 3 observations of {teacher.obs_dim} values, newest first' in \
        capsys.readouterr().out


def test_the_deploy_loop_feeds_the_last_observations_newest_first(student):
    robot = get_robot('g1')
    loop = PolicyLoop(student, robot)
    builder = ObservationBuilder(loop.policy.contract.observation.name, robot)
    policy, command = OnnxPolicy(student), np.array([0.4, 0.0, 0.1])
    frames, prev = [], np.zeros(robot.n_joints)
    for tick, state in enumerate(_states(4)):
        phase = loop.clock.observe(tick, np.zeros(2))
        frames.insert(0, builder.build(state, prev, command=command, gait_phase=phase))
        # The first observation fills the history: a robot just started has been there.
        stacked = np.concatenate((frames + [frames[-1]] * 3)[:3])
        _, action = loop.act(state, command)
        np.testing.assert_allclose(action, policy.act(stacked), atol=1e-6)
        prev = action


def test_memory_carries_the_history_and_reset_forgets_it(student):
    robot = get_robot('g1')
    loop, fresh = PolicyLoop(student, robot), PolicyLoop(student, robot)
    states, command = _states(3), np.array([0.4, 0.0, 0.1])
    loop.act(states[0], command)
    kept = loop.memory
    first = loop.act(states[1], command)[1]
    loop.act(states[2], command)
    loop.memory = kept
    np.testing.assert_array_equal(loop.act(states[1], command)[1], first)
    loop.reset()
    np.testing.assert_array_equal(loop.act(states[2], command)[1],
                                  fresh.act(states[2], command)[1])


def test_a_student_with_unused_history_acts_as_its_teacher_under_stress(tmp_path):
    out = tmp_path / 'student.onnx'
    # No updates: the older frames keep their zero weights.
    assert main(['distill', G1_FIRST, '-o', str(out), '--history', '2', *TINY]) == 0
    c = OnnxPolicy(G1_FIRST).contract
    commands = {k: tuple(v) for k, v in c.task['command_ranges'].items()}

    def figures(path):
        job = Job(path, 'velocity:g1', c.observation.name, 'g1', 0, 60, commands)
        return run_matrix(job, ['push_0.5'], 1, 1)['push_0.5'][0]
    mine, teacher = figures(str(out)), figures(G1_FIRST)
    assert mine['steps'] == teacher['steps'] == 60
    assert mine['return'] == pytest.approx(teacher['return'], rel=1e-4)


def test_training_from_a_history_student_takes_its_history_or_is_refused(student, tmp_path):
    from symphony_ros.core.checkpoint import CheckpointError
    from symphony_ros.core.config import TrainConfig
    from symphony_ros.core.trainer import Trainer

    def cfg(name, history):
        return TrainConfig(env='velocity:g1', obs_spec='velocity_gait_scaled', steps=10,
                           run_dir=str(tmp_path / name), init_from=student, history=history,
                           overrides=dict(hidden_dim=128, critic_heads=4))
    with pytest.raises(CheckpointError, match=r'takes the last 3 observations at once '
                                              r'\(observation.history\), this run 1 '
                                              r'\(--history 3 fits it\)'):
        Trainer(cfg('run', 1), progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'run' / 'checkpoints')
    Trainer(cfg('fits', 3), progress=False, tensorboard=False).close()


def test_a_symmetric_teacher_gives_a_symmetric_student_that_starts_as_it_acts(tmp_path):
    sym = G1_SYM
    out = tmp_path / 'sym_h2.onnx'
    assert main(['distill', sym, '-o', str(out), '--history', '2', *TINY]) == 0
    teacher, student = OnnxPolicy(sym), OnnxPolicy(str(out))
    assert student.contract.obs_dim == 2 * teacher.contract.obs_dim
    frame = np.random.default_rng(0).normal(size=teacher.contract.obs_dim)
    older = np.random.default_rng(1).normal(size=teacher.contract.obs_dim)
    # No update: the older frame, mirrored or not, is at weight 0.
    np.testing.assert_allclose(student.act(np.concatenate([frame, older])), teacher.act(frame),
                               atol=1e-5)


def test_a_history_student_is_refused_as_a_teacher(student, tmp_path, capsys):
    out = tmp_path / 'again.onnx'
    assert main(['distill', student, '-o', str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert 'takes the last 3 observations at once; a teacher labels from one' in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
