"""Training randomisation: each knob changes the model or data as declared, draws repeat per
seed, a delay shifts actions by the right number of steps, ``none`` leaves the env as it was."""

import dataclasses
import json
import os

import mujoco
import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.core.envs import make_env, make_randomized_env, randomization
from symphony_ros.robot import get_robot
from symphony_ros.robot.randomize import Randomized, randomize_env
from symphony_ros.robot.ranges import DEFAULTS, load_randomization, point_spec, spec_changes
from symphony_ros.robot.rotations import yaw

HUMANOID = 'symphony/Humanoid-v4'


def _wrap(env_id, robot, values, **kw):
    return randomize_env(make_env(env_id), point_spec(values), get_robot(robot), **kw)


def _rollout(env, seed, steps=20):
    obs, info = env.reset(seed=seed)
    out = [obs]
    rng = np.random.default_rng(3)
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-0.3, 0.3, env.action_space.shape))
        out.append(obs)
    return info.get('randomization'), np.array(out)


def test_default_draws_repeat_per_seed_and_differ_between_seeds():
    def run(seed):
        env = make_randomized_env(HUMANOID, None, randomization(HUMANOID, 'default'))
        return _rollout(env, seed)
    (d1, o1), (d2, o2), (d3, _) = run(5), run(5), run(6)
    assert d1 == d2 and np.array_equal(o1, o2)
    assert d1 != d3


def test_none_leaves_the_env_unwrapped_and_bit_for_bit():
    assert randomization(HUMANOID, 'none') is None
    assert randomization(HUMANOID, 'default', scale=0.0).is_nominal
    env = make_randomized_env(HUMANOID, None, randomization(HUMANOID, 'default', 0.0))
    assert not isinstance(env, Randomized)
    _, a = _rollout(env, 1)
    _, b = _rollout(make_env(HUMANOID), 1)
    assert np.array_equal(a, b)


def test_default_masses_stay_in_range():
    r = get_robot('humanoid')
    env = make_randomized_env(HUMANOID, None, load_randomization('default', r))
    nominal = make_env(HUMANOID).unwrapped.model.body_mass
    ratios = []
    for seed in range(3):
        env.reset(seed=seed)
        m = env.unwrapped.model.body_mass
        base = env.unwrapped.model.body(r.base_body).id
        others = np.arange(1, len(m)) != base
        ratio = m[1:][others] / nominal[1:][others]
        assert np.all(ratio >= DEFAULTS['mass_scale'][0] - 1e-12)
        assert np.all(ratio <= DEFAULTS['mass_scale'][1] + 1e-12)
        ratios.append(ratio)
    assert np.std(ratios) > 0.01  # drawn, not fixed


@pytest.mark.parametrize('knob, value, field, check', [
    ('friction_scale', 0.5, 'geom_friction', lambda new, old: np.allclose(new[:, 0],
                                                                          0.5 * old[:, 0])),
    ('kp_scale', 1.2, 'actuator_gainprm', lambda new, old: np.allclose(new[:, 0],
                                                                       1.2 * old[:, 0])),
    ('kd_scale', 0.8, 'actuator_biasprm', lambda new, old: np.allclose(new[:, 2],
                                                                       0.8 * old[:, 2])),
    ('strength_scale', 0.8, 'actuator_forcerange', lambda new, old: np.allclose(new, 0.8 * old)),
    ('armature_scale', 1.05, 'dof_armature', lambda new, old: np.allclose(new[6:],
                                                                          1.05 * old[6:])),
    ('joint_friction', 0.1, 'dof_frictionloss', lambda new, old: np.allclose(new[6:],
                                                                             old[6:] + 0.1)),
    ('joint_damping', 0.1, 'dof_damping', lambda new, old: np.allclose(new[6:], old[6:] + 0.1)),
    ('payload_kg', 3.0, 'body_mass', lambda new, old: np.isclose(new.sum(), old.sum() + 3.0)),
    ('com_offset_m', 0.03, 'body_ipos', lambda new, old: np.isclose(np.abs(new - old).max(),
                                                                    0.03)),
])
def test_each_knob_changes_the_g1_model(knob, value, field, check):
    env = _wrap('velocity:g1', 'g1', {knob: value})
    old = getattr(env.unwrapped.model, field).copy()
    env.reset(seed=0)
    new = getattr(env.unwrapped.model, field)
    assert not np.array_equal(new, old) and check(new, old)
    env.reset(seed=1)  # restored to nominal before each episode's draw: not compounded
    assert check(getattr(env.unwrapped.model, field), old)


def test_torque_strength_scales_the_humanoid_gear():
    env = _wrap(HUMANOID, 'humanoid', {'strength_scale': 0.8})
    old = env.unwrapped.model.actuator_gear[:, 0].copy()
    env.reset(seed=0)
    assert np.allclose(env.unwrapped.model.actuator_gear[:, 0], 0.8 * old)


def test_one_control_step_of_delay_applies_the_previous_action():
    r = get_robot('humanoid')
    env = _wrap(HUMANOID, 'humanoid', {'delay_s': r.control_dt})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-0.4, 0.4, r.n_joints) for _ in range(4)]
    env.step(actions[0])
    assert np.array_equal(env.unwrapped.data.ctrl, np.zeros(r.n_joints))  # nothing sent yet
    for k in range(1, 4):
        _, _, _, _, info = env.step(actions[k])
        assert np.array_equal(env.unwrapped.data.ctrl, actions[k - 1])
        assert np.array_equal(info['applied_action'], actions[k - 1])


def test_sub_step_delay_holds_the_previous_command_for_that_many_physics_steps():
    r = get_robot('humanoid')
    env = _wrap(HUMANOID, 'humanoid', {'delay_s': 2 * r.physics_dt})
    env.reset(seed=0)
    a0, a1 = np.full(r.n_joints, 0.2), np.full(r.n_joints, -0.3)
    env.step(a0)
    m, d = env.unwrapped.model, env.unwrapped.data
    twin = mujoco.MjData(m)
    mujoco.mj_copyData(twin, m, d)
    mujoco.mj_step(m, twin, nstep=2)  # a0 still held
    twin.ctrl[:] = a1
    mujoco.mj_step(m, twin, nstep=r.frame_skip - 2)
    env.step(a1)
    np.testing.assert_array_equal(d.qpos, twin.qpos)
    assert env.unwrapped.frame_skip == r.frame_skip


def test_a_push_kicks_the_base_velocity():
    r = get_robot('humanoid')
    pushed = _wrap(HUMANOID, 'humanoid', {'push_velocity': 1.0, 'push_interval_s': r.control_dt})
    plain = make_env(HUMANOID)
    pushed.reset(seed=0)
    plain.reset(seed=0)
    a = np.zeros(r.n_joints)
    pushed.step(a)
    plain.step(a)
    dv = pushed.unwrapped.data.qvel[:2] - plain.unwrapped.data.qvel[:2]
    assert 0.7 < np.linalg.norm(dv) < 1.3
    assert pushed.kicks[0][1] == 1.0


def test_a_bearing_pushes_toward_that_side_of_the_robot_whichever_way_it_faces():
    r = get_robot('g1')
    values = {'push_velocity': 1.0, 'push_interval_s': r.control_dt}
    sided = _wrap('velocity:g1', 'g1', {**values, 'push_bearing_deg': 90.0})
    anywhere = _wrap('velocity:g1', 'g1', values)
    a = np.zeros(r.n_joints)
    for seed in range(3):      # each reset draws the robot's heading anew
        sided.reset(seed=seed)
        base = sided.unwrapped.data.qpos[3:7].copy()
        before = sided.unwrapped.data.qvel[:2].copy()
        sided.step(a)
        kick = sided.unwrapped.data.qvel[:2] - before
        # The world kick in the robot's heading frame at the kick: to its left (+y).
        c, s_ = np.cos(yaw(base)), np.sin(yaw(base))
        forward, left = c * kick[0] + s_ * kick[1], -s_ * kick[0] + c * kick[1]
        assert left > 0.6 and abs(forward) < 0.4
    assert all(k[2] == pytest.approx(np.pi / 2, abs=1e-6) for k in sided.kicks)
    anywhere.reset(seed=0)
    for _ in range(30):
        anywhere.step(a)
    # Without the knob, kicks come from every side.
    assert np.ptp([k[2] for k in anywhere.kicks]) > np.pi


def test_the_first_kick_comes_within_push_first_s_else_after_one_interval():
    # Default training: 1-5 s into the episode, so episodes that fall early still meet kicks.
    env = make_randomized_env(HUMANOID, None, randomization(HUMANOID, 'default'))
    firsts = [env.reset(seed=s)[1]['randomization']['first_push_s'] for s in range(20)]
    assert all(1.0 <= t <= 5.0 for t in firsts) and len(set(firsts)) == 20
    # A stress push condition leaves push_first_s at nominal: one interval (5-10 s) first.
    r = get_robot('humanoid')
    pushed = _wrap(HUMANOID, 'humanoid', {'push_velocity': 0.5, 'push_interval_s': 0.3})
    pushed.reset(seed=0)
    early = _wrap(HUMANOID, 'humanoid', {'push_velocity': 0.5, 'push_interval_s': 0.3,
                                         'push_first_s': 0.06})
    early.reset(seed=0)
    a = np.zeros(r.n_joints)
    for _ in range(int(round(0.33 / r.control_dt))):
        pushed.step(a)
        early.step(a)
    dt = r.control_dt   # a kick lands on the first control step at or after its time
    assert [k[0] for k in pushed.kicks] == [pytest.approx(0.3, abs=dt)]
    assert [k[0] for k in early.kicks] == [pytest.approx(0.06, abs=dt)]
    # An interval of 0 turns kicks off, a first-kick time or not (KNOBS).
    off = _wrap(HUMANOID, 'humanoid', {'push_velocity': 0.5, 'push_first_s': 0.06})
    assert off.reset(seed=0)[1]['randomization']['first_push_s'] is None


def test_obs_noise_per_term_and_the_sent_previous_action():
    env = _wrap('velocity:g1', 'g1', {'obs_noise_scale': 1.0, 'delay_s': 0.02})
    env.reset(seed=0)
    a = np.full(env.action_space.shape, 0.1)
    obs, _, _, _, info = env.step(a)
    clean = env.env.unwrapped._observe()
    clean[env.slices['previous_action']] = a
    np.testing.assert_array_equal(info['clean_obs'], clean)   # the anchor's view
    s = env.slices
    jv = obs[s['joint_vel']] - clean[s['joint_vel']]
    assert 0 < np.abs(jv).max() <= 1.5
    assert np.abs(obs[s['projected_gravity']] - clean[s['projected_gravity']]).max() <= 0.05
    np.testing.assert_array_equal(obs[s['command']], clean[s['command']])
    np.testing.assert_array_equal(obs[s['previous_action']], a)  # sent, not the delayed one


def test_under_leg_odometry_the_sensors_noise_is_drawn_on_the_state_the_estimate_reads():
    """The estimate errs as on a robot: it reads the noisy encoders and gyro the actor reads.

    The odometry's own term is exact here, so what moves it is the joints' noise alone; the
    clean observation and the critic's keep the exact sensors.
    """
    g1, odom = get_robot('g1'), 'velocity_gait_odom'
    spec = point_spec({'obs_noise_scale': 1.0, 'imu_bias_scale': 1.0})
    spec = dataclasses.replace(spec, obs_noise={**spec.obs_noise, 'odom_lin_vel': 0.0})
    noisy = randomize_env(make_env('velocity:g1', odom, odometry='legs'), spec, g1)
    exact = make_env('velocity:g1', odom, odometry='legs')
    noisy.reset(seed=3)
    exact.reset(seed=3)
    s, rng, moved = noisy.slices, np.random.default_rng(0), []
    jv, vel = s['joint_vel'], s['odom_lin_vel']
    for _ in range(30):
        a = rng.uniform(-0.2, 0.2, g1.n_joints)
        (o, r, _, _, info), (e, er, _, _, einfo) = noisy.step(a), exact.step(a)
        assert r == er                                           # the physics: untouched
        assert 0 < np.abs(o[jv] - e[jv]).max() <= 1.5 * np.max(noisy.factors.get('joint_vel', 1))
        np.testing.assert_array_equal(info['clean_obs'][jv], e[jv])
        np.testing.assert_array_equal(info['critic_obs'][jv], einfo['critic_obs'][jv])
        np.testing.assert_array_equal(info['clean_obs'][vel], o[vel])   # the estimate had
        moved.append(o[vel] - e[vel])
    assert np.abs(moved).max() > 0.01      # drawn on the observation, it left the estimate


def test_a_scaled_observation_gets_the_same_noise_draws_scaled_as_its_terms():
    values = {'obs_noise_scale': 1.0, 'imu_bias_scale': 1.0, 'delay_s': 0.02}
    plain = randomize_env(make_env('velocity:g1', 'velocity_gait'), point_spec(values),
                          get_robot('g1'))
    scaled = randomize_env(make_env('velocity:g1', 'velocity_gait_scaled'), point_spec(values),
                           get_robot('g1'))
    factor = scaled.env.unwrapped.builder.spec.scale_vector()
    for env in (plain, scaled):
        env.reset(seed=4)
    a = np.full(plain.action_space.shape, 0.1)
    for _ in range(3):
        (po, *_, pi), (so, *_, si) = plain.step(a), scaled.step(a)
    # Noise and biases drawn in each term's units, then scaled with it: the same draws.
    np.testing.assert_allclose(so - si['clean_obs'], (po - pi['clean_obs']) * factor,
                               atol=1e-12)
    np.testing.assert_allclose(si['clean_obs'], pi['clean_obs'] * factor, atol=1e-12)
    jv = scaled.slices['joint_vel']
    assert 0 < np.abs(so[jv] - si['clean_obs'][jv]).max() <= 1.5 * 0.05


def test_episode_log_lines(tmp_path):
    log = str(tmp_path / 'r.jsonl')
    env = make_randomized_env(HUMANOID, None, randomization(HUMANOID, 'default'), log)
    env.reset(seed=0)
    env.reset(seed=1)   # ends the first episode: its line, cut short at 0 s
    with open(log) as fh:
        assert [json.loads(s)['seed'] for s in fh] == [0]
    env.close()         # and the second's
    with open(log) as fh:
        assert [(d['seed'], d['up_s'], d['fell']) for d in map(json.loads, fh)] == [
            (0, 0.0, False), (1, 0.0, False)]


def test_robot_wide_knobs_give_every_part_one_factor_and_the_others_one_each():
    g1 = get_robot('g1')
    base = load_randomization('default', g1)
    wide = load_randomization(os.path.join(os.path.dirname(__file__), '..', '..', 'config',
                                           'randomize_g1_robot_wide.yaml'), g1)
    assert wide.robot_wide == ('mass_scale', 'strength_scale', 'kp_scale', 'kd_scale')
    assert wide.to_dict()['robot_wide'] == list(wide.robot_wide)
    assert 'robot_wide' not in base.to_dict()           # older contracts and logs compare equal
    nominal = make_env('velocity:g1').unwrapped.model
    means = {True: [], False: []}
    for spec in (base, wide):
        env = randomize_env(make_env('velocity:g1'), spec, g1)
        for seed in range(12):
            env.reset(seed=seed)
            m = env.unwrapped.model
            kp = m.actuator_gainprm[:, 0] / nominal.actuator_gainprm[:, 0]
            mass = m.body_mass[2:] / nominal.body_mass[2:]       # not the world, nor the base
            wide_draw = spec is wide
            # Robot-wide: one factor (strength x kp) for all motors, one for all bodies.
            assert (np.ptp(kp) < 1e-9) == wide_draw and (np.ptp(mass) < 1e-9) == wide_draw
            means[wide_draw].append(kp.mean())
        env.close()
    # Drawn per motor the robot's mean barely moves; drawn for the robot it spans the range.
    assert np.ptp(means[False]) < 0.06 and np.ptp(means[True]) > 0.15
    assert min(means[True]) >= 0.81 - 1e-9 and max(means[True]) <= 1.21 + 1e-9
    assert spec_changes(base.to_dict(), wide.to_dict())[-1] == (
        'robot_wide [] -> [mass_scale, strength_scale, kp_scale, kd_scale]')


@pytest.mark.parametrize('doc, expected', [
    ('robot_wide: [payload_kg]\n', 'robot_wide: expected a list of knobs drawn per part'),
    ('hard_share: 1.5\n', 'hard_share: expected a share of episodes, 0..1'),
    ('hard_share: true\n', 'hard_share: expected a share of episodes, 0..1'),
    ('hard_depth: -0.5\n', 'hard_depth: expected a fraction, 0..1'),
    ('mass_scale: [1.2, 0.8]\n', 'mass_scale: inverted range'),
    ('friction_scale: [-0.5, 1.0]\n', 'friction_scale: negative range'),
    ('gravity: [1, 2]\n', 'gravity: unknown knob'),
    ('push_bearing_deg: [-200, 90]\n', r'push_bearing_deg: \[-200.0, 90.0\] leaves -180..180'),
    ('mass_scale: [0.9, 1.1]\npush_velocity: [0, 1]\nmass_scale: [0.5, 1.5]\n',
     r"not YAML \(key 'mass_scale' is given twice \(first on line 1\) \(line 3, column 1\)\)"),
])
def test_bad_randomization_file(tmp_path, doc, expected):
    path = tmp_path / 'r.yaml'
    path.write_text(doc)
    with pytest.raises(ValueError, match=expected):
        randomization(HUMANOID, str(path))


@pytest.mark.parametrize('doc, flags, expected', [
    (None, [], 'missing.yaml'),
    ('mass_scale: [-0.5, 1.1]\n', [], 'r.yaml: mass_scale: negative range [-0.5, 1.1]'),
    (None, ['--randomize-scale', '-1'], '--randomize-scale'),
])
def test_train_refuses_a_bad_randomization_with_one_line(tmp_path, capsys, doc, flags,
                                                         expected):
    run_dir = tmp_path / 'run'
    path = tmp_path / ('r.yaml' if doc else 'missing.yaml')
    if doc:
        path.write_text(doc)
    which = 'default' if flags else str(path)
    try:
        rc = main(['train', '--randomize', which, *flags, '--run-dir', str(run_dir),
                   '--steps', '10'])
    except SystemExit as exc:           # refused by the flag's declared range at parse time
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and expected in err[0], err
    assert not os.path.exists(run_dir)


def test_a_restored_env_generator_draws_the_same_episode():
    from symphony_ros.core.envs import get_rng_state, set_rng_state
    env = make_randomized_env(HUMANOID, None, randomization(HUMANOID, 'default'))
    env.reset(seed=4)
    state = get_rng_state(env)
    _, first = env.reset()
    set_rng_state(env, state)  # as a resumed run restores it from its checkpoint
    _, again = env.reset()
    assert first['randomization'] == again['randomization']


def test_a_hard_share_of_episodes_draws_every_hard_knob_at_its_hard_end(tmp_path):
    g1 = get_robot('g1')
    doc = tmp_path / 'hard.yaml'
    doc.write_text('hard_share: 0.5\npush_velocity: [0.5, 1.0]\npush_first_s: [0.1, 0.1]\n')
    spec = load_randomization(str(doc), g1)
    assert spec.hard_share == 0.5 and spec.to_dict()['hard_share'] == 0.5
    assert 'hard_share' not in load_randomization('default', g1).to_dict()
    assert spec_changes(load_randomization('default', g1).to_dict(), spec.to_dict())[-1] == (
        'hard_share 0 -> 0.5')
    nominal = make_env('velocity:g1').unwrapped.model
    env = randomize_env(make_env('velocity:g1'), spec, g1)
    seen = {True: 0, False: 0}
    for seed in range(16):
        _, info = env.reset(seed=seed)
        d, m = info['randomization'], env.unwrapped.model
        hard = d['hard']
        seen[hard] += 1
        kp = m.actuator_gainprm[:, 0] / nominal.actuator_gainprm[:, 0]
        if hard:
            # Heavier, softer, weaker, slipperier, late and noisy, all at once.
            lo_kp, _ = spec.range('kp_scale')
            assert np.allclose(kp, lo_kp * spec.range('strength_scale')[0])
            assert d['payload_kg'] == spec.range('payload_kg')[1]
            assert d['mass_scale_mean'] == pytest.approx(spec.range('mass_scale')[1])
            assert d['friction_scale'] == spec.range('friction_scale')[0]
            assert d['delay_s'] == pytest.approx(spec.range('delay_s')[1])
            assert d['obs_noise_scale'] == spec.range('obs_noise_scale')[1]
        else:
            assert np.ptp(kp) > 0.05          # drawn per motor as usual
        for _ in range(int(0.2 / g1.control_dt)):
            env.step(np.zeros(env.action_space.shape))
        assert len(env.kicks) == 1 and (env.kicks[0][1] == 1.0) == hard   # fastest when hard
    env.close()
    assert seen[True] >= 3 and seen[False] >= 3


def test_the_hard_corner_leans_where_the_worst_condition_does():
    # Drawn at its hard end, each knob is at least as hard as `worst` sets it, on a robot
    # whose default ranges hold `worst`: training at the corner meets what the gate tests.
    from symphony_ros.robot.ranges import HARD_END
    from symphony_ros.stress.conditions import spec_of, within_training
    g1 = get_robot('g1')
    default, worst = load_randomization('default', g1), spec_of('worst', g1)
    assert within_training('worst', g1)
    assert set(HARD_END) == set(worst.ranges) - {'push_interval_s'}
    for knob, end in HARD_END.items():
        corner, value = default.range(knob)[end], worst.range(knob)[0]
        assert (corner >= value) if end else (corner <= value), knob


def test_a_hard_depth_sets_the_corner_part_of_the_way_from_nominal(tmp_path):
    g1 = get_robot('g1')
    doc = tmp_path / 'half.yaml'
    doc.write_text('hard_share: 1.0\nhard_depth: 0.5\n')
    spec = load_randomization(str(doc), g1)
    assert spec.to_dict()['hard_depth'] == 0.5
    assert spec_changes(load_randomization('default', g1).to_dict(), spec.to_dict())[-2:] == [
        'hard_share 0 -> 1', 'hard_depth 1 -> 0.5']
    env = randomize_env(make_env('velocity:g1'), spec, g1)
    _, info = env.reset(seed=1)
    d = info['randomization']
    env.close()
    # Halfway from nominal to each hard end: friction 1 -> 0.3 gives 0.65, +3 kg gives 1.5.
    assert d['hard'] and d['friction_scale'] == pytest.approx(0.65)
    assert d['payload_kg'] == pytest.approx(1.5) and d['obs_noise_scale'] == pytest.approx(0.5)
    assert d['mass_scale_mean'] == pytest.approx(1.05)
    assert d['delay_s'] == pytest.approx(0.01)


@pytest.mark.parametrize('name', sorted(
    f for f in os.listdir(os.path.join(os.path.dirname(__file__), '..', '..', 'config'))
    if f.startswith('randomize_')))
def test_every_shipped_ranges_file_loads_for_its_robot(name):
    # A ranges file the README points to that the loader refuses would fail a run at once.
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'config', name)
    robot = get_robot('g1' if name.startswith('randomize_g1') else 'humanoid')
    spec = load_randomization(path, robot)
    assert not spec.is_nominal
