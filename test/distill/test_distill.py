"""DAgger distillation of the shipped policies: real MuJoCo, real onnxruntime, tiny rounds."""

import hashlib
import json

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.distill.config import DistillConfig
from symphony_ros.distill.dagger import Distiller, Samples
from symphony_ros.policy.runtime import OnnxPolicy
from shipped_models import G1_FIRST, G1_SYM, HUMANOID

TINY = ['--rounds', '2', '--steps-per-round', '150', '--updates-per-round', '5',
        '--batch-size', '32']


@pytest.fixture
def one_step_delay(tmp_path):
    """Ranges whose action delay is one G1 control step (20 ms) in every episode."""
    path = tmp_path / 'delay.yaml'
    path.write_text('delay_s: [0.02, 0.02]\ndelay_jitter_steps: [0, 0]\n')
    return str(path)


def _distiller(ranges, **kw):
    kw = {'randomize': ranges, 'knobs': 'delay_s', 'steps_per_round': 200,
          'updates_per_round': 0, **kw}
    return Distiller(DistillConfig(**kw), G1_FIRST)


def test_the_teacher_sees_the_exact_state_and_the_command_the_motors_had(one_step_delay):
    d = _distiller(one_step_delay)
    run = d.env.run(5, d._act)
    assert (run.delays == 4).all()     # 20 ms: four 5 ms physics steps
    prev = d.env.env.slices['previous_action']
    other = np.ones(run.student_obs.shape[1], bool)
    other[prev] = False
    # No noise knob moves: apart from the previous action both saw the same state.
    assert np.array_equal(run.student_obs[:, other], run.teacher_obs[:, other])
    # The motors run one step behind the commands sent: the teacher's previous action at
    # t+1 is the student's (the one sent) at t.
    assert np.array_equal(run.teacher_obs[2:, prev], run.student_obs[1:-1, prev])
    assert not np.array_equal(run.teacher_obs[2:, prev], run.student_obs[2:, prev])


def test_the_student_starts_as_its_teacher_and_learns_to_act_ahead(one_step_delay):
    d = _distiller(one_step_delay, lr=1e-3, batch_size=256)
    steps, episodes, _ = d.collect(300)
    # One control step of delay: each episode's last command has no label.
    assert len(d.samples) == steps - episodes
    obs, labels = d.samples.tensors()
    teacher = torch.from_numpy(OnnxPolicy(G1_FIRST).act_batch(obs.numpy()))
    with torch.no_grad():
        assert torch.allclose(d.student.deterministic(obs), teacher, atol=1e-5)
        before = float(torch.mean((teacher - labels) ** 2))
    d.learn(200)
    with torch.no_grad():
        after = float(torch.mean((d.student.deterministic(obs) - labels) ** 2))
    assert after < 0.7 * before, (before, after)


def test_a_seed_gives_the_same_student(one_step_delay):
    def weights(seed):
        d = _distiller(one_step_delay, seed=seed, updates_per_round=3, rounds=1,
                       steps_per_round=60)
        d.run()
        return [t.detach().clone() for t in d.student.state_dict().values()], d.history[0]
    (a, fa), (b, fb), (c, _) = weights(1), weights(1), weights(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert (fa.steps, fa.episodes, fa.falls, fa.loss) == (fb.steps, fb.episodes, fb.falls,
                                                          fb.loss)
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_samples_keep_the_newest_within_capacity():
    s = Samples(5)
    s.add(np.zeros((3, 2)), np.zeros((3, 1)))
    s.add(np.ones((4, 2)), np.ones((4, 1)))
    obs, labels = s.tensors()
    assert len(s) == 5 and obs[:, 0].tolist() == [0, 1, 1, 1, 1]
    assert labels.shape == (5, 1)


def test_cli_writes_a_student_whose_contract_names_its_teacher(tmp_path, capsys):
    out, run_dir = tmp_path / 'student.onnx', tmp_path / 'run'
    assert main(['distill', G1_FIRST, '-o', str(out), '--run-dir', str(run_dir), *TINY]) == 0
    c = OnnxPolicy(str(out)).contract
    record = c.train_config['distill']
    with open(G1_FIRST, 'rb') as fh:
        assert record['teacher_sha256'] == hashlib.sha256(fh.read()).hexdigest()
    assert record['rounds'] == 2 and record['settings']['knobs'].startswith('delay_s')
    # The contract lists the ranges the student met: the sensing knobs, the rest nominal.
    assert set(c.randomization['ranges']) == {
        'delay_s', 'delay_jitter_steps', 'push_interval_s', 'push_first_s'}
    assert c.test_return is None
    assert c.weights_sha256 != OnnxPolicy(G1_FIRST).contract.weights_sha256
    rows = [json.loads(line) for line in (run_dir / 'rounds.jsonl').read_text().splitlines()]
    assert [r['round'] for r in rows] == [0, 1] and all(r['steps'] >= 150 for r in rows)
    assert (run_dir / 'students' / 'round_01.onnx').is_file()
    assert f'wrote {out}' in capsys.readouterr().out
    assert main(['inspect', str(out)]) == 0
    text = capsys.readouterr().out
    # The teacher's training (its source, its curriculum) reads before the distillation,
    # whose ranges follow the distilled line.
    order = [text.index(k) for k in ('  randomization    ', '  source           ',
                                     '  distilled        from ', '    ranges         delay_s')]
    assert order == sorted(order), text


def test_a_policy_that_does_not_see_its_last_command_is_distilled_for_noise_only(
        tmp_path, capsys):
    out = tmp_path / 'humanoid.onnx'
    # Humanoid-v4's observation holds no previous action: no acting ahead of a delay.
    assert main(['distill', HUMANOID, '-o', str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "holds no previous action" in err and '--obs-spec' in err and not out.exists()
    assert main(['distill', HUMANOID, '-o', str(out), '--knobs', 'obs_noise_scale', *TINY]) == 0
    assert OnnxPolicy(str(out)).contract.env == OnnxPolicy(HUMANOID).contract.env


def test_a_student_given_the_previous_action_starts_as_its_teacher_and_deploys_with_it(
        tmp_path, capsys):
    out = tmp_path / 'torque.onnx'
    args = ['distill', HUMANOID, '-o', str(out), '--obs-spec', 'humanoid_v4_torque', '--rounds',
            '1', '--steps-per-round', '100', '--updates-per-round', '0']
    assert main(args) == 0
    assert 'observation humanoid_v4_full; the student humanoid_v4_torque' in \
        capsys.readouterr().err
    teacher, student = OnnxPolicy(HUMANOID), OnnxPolicy(str(out))
    assert student.contract.observation.name == 'humanoid_v4_torque'
    assert student.contract.obs_dim == teacher.contract.obs_dim + 17
    obs = np.random.default_rng(0).normal(size=teacher.contract.obs_dim)
    previous = np.random.default_rng(1).uniform(-1, 1, size=17)
    # The command in flight is an input at weight 0 until the student learns.
    np.testing.assert_allclose(student.act(np.concatenate([obs, previous])), teacher.act(obs),
                               atol=1e-5)
    assert student.contract.train_config['distill']['settings']['obs_spec'] == \
        'humanoid_v4_torque'


def test_a_symmetric_teachers_student_mirrors_the_inputs_it_adds(tmp_path):
    sym = G1_SYM
    out = tmp_path / 'odom.onnx'
    assert main(['distill', sym, '-o', str(out), '--obs-spec', 'velocity_gait_odom',
                 '--rounds', '1', '--steps-per-round', '100', '--updates-per-round', '0']) == 0
    teacher, student = OnnxPolicy(sym), OnnxPolicy(str(out))
    assert student.contract.obs_dim == teacher.contract.obs_dim + 3      # the base velocity
    obs = np.random.default_rng(0).normal(size=teacher.contract.obs_dim)
    np.testing.assert_allclose(student.act(np.concatenate([obs, [0.4, -0.3, 0.1]])),
                               teacher.act(obs), atol=1e-5)


def test_a_student_observation_that_does_not_append_to_the_teachers_is_refused(
        tmp_path, capsys):
    out = tmp_path / 's.onnx'
    assert main(['distill', HUMANOID, '-o', str(out), '--obs-spec', 'proprioceptive',
                 '--knobs', 'obs_noise_scale', *TINY]) == 2
    err = capsys.readouterr().err
    assert ("--obs-spec proprioceptive: does not append terms to the teacher's observation "
            "'humanoid_v4_full'") in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize('args, message', [
    (['missing.onnx'], 'missing.onnx: no such file'),
    ([G1_FIRST, '--knobs', 'mass'], "--knobs: unknown knob 'mass'; expected \"all\" or some of"),
    ([G1_FIRST, '--randomize', 'none'], '--randomize none: a student learns to ride out'),
    ([G1_FIRST, '--knobs', 'delay_s', '--randomize-scale', '0'], 'nothing to learn against'),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / 's.onnx'
    assert main(['distill', *args, '-o', str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_an_existing_output_is_kept_without_force(tmp_path, capsys):
    out = tmp_path / 's.onnx'
    out.write_bytes(b'keep me')
    assert main(['distill', G1_FIRST, '-o', str(out), *TINY]) == 2
    assert 'exists; pass --force' in capsys.readouterr().err
    assert out.read_bytes() == b'keep me'


def test_a_bad_setting_is_refused_at_parse_time(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['distill', G1_FIRST, '-o', 'x.onnx', '--rounds', '0'])
    assert exc.value.code == 2
    assert '--rounds' in capsys.readouterr().err
