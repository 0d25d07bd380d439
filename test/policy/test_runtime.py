"""OnnxPolicy: acts like torch, and every bad file or input gives its own typed error."""

import json

import numpy as np
import onnx
import pytest
import torch

from symphony_ros.policy.errors import (ContractError, MissingContractError,
                                        NewerFormatError, ObservationError, PolicyError,
                                        PolicyFileError, RobotMismatchError)
from symphony_ros.policy.graph import onnx_graph
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

OBS_DIM = get_obs_spec('humanoid_v4_full').dim
ACT_DIM = get_robot('humanoid').n_joints


@pytest.fixture(scope='module')
def humanoid(runs):
    return OnnxPolicy(runs['humanoid']['onnx'])


def test_acts_like_the_torch_deterministic_actor(runs, humanoid):
    actor = runs['humanoid']['actor']
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.standard_normal(OBS_DIM) * 3
        with torch.no_grad():
            ref = actor.deterministic(torch.tensor(x, dtype=torch.float32)[None])[0].numpy()
        a = humanoid.act(x)
        assert a.shape == (ACT_DIM,) and a.dtype == np.float32
        assert np.abs(a - ref).max() < 1e-5


def test_act_accepts_row_vector_list_and_returns_fresh_arrays(humanoid):
    x = np.linspace(-1, 1, OBS_DIM, dtype=np.float32)
    a1 = humanoid.act(x)
    a2 = humanoid.act(x[None])
    a3 = humanoid.act(x.tolist())
    assert np.array_equal(a1, a2) and np.array_equal(a1, a3)
    humanoid.act(np.zeros(OBS_DIM))
    assert np.array_equal(a1, humanoid.act(x))  # the first result was not overwritten
    batch = humanoid.act_batch(np.stack([x, np.zeros(OBS_DIM)]))
    assert batch.shape == (2, ACT_DIM) and np.abs(batch[0] - a1).max() < 1e-6


def test_properties(humanoid, runs):
    assert (humanoid.obs_dim, humanoid.act_dim) == (OBS_DIM, ACT_DIM)
    assert humanoid.joint_names == list(get_robot().joint_names)
    assert humanoid.control_dt == pytest.approx(0.015)
    assert humanoid.contract == runs['humanoid']['result'].contract


def test_lazy_top_level_import(runs):
    from symphony_ros import OnnxPolicy as Top
    from symphony_ros.policy import OnnxPolicy as Pkg
    assert Top is Pkg is OnnxPolicy


@pytest.mark.filterwarnings('ignore:invalid value encountered:RuntimeWarning')
@pytest.mark.parametrize('where', [0, 200, 375])
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_observation_is_refused(humanoid, where, bad):
    x = np.zeros(OBS_DIM)
    x[where] = bad
    term = humanoid.contract.observation.term_at(where)
    with pytest.raises(ObservationError, match=rf'obs: 1 non-finite .* index {where} in '
                       rf'term\(s\) {term}'):
        humanoid.act(x)
    assert np.all(np.isfinite(humanoid.act(np.zeros(OBS_DIM))))


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_float32_overflow_is_refused(humanoid):
    x = np.zeros(OBS_DIM)
    x[3] = 1e300
    with pytest.raises(ObservationError, match='non-finite'), \
            np.errstate(over='ignore'):
        humanoid.act(x)


@pytest.mark.parametrize('obs', [np.zeros(OBS_DIM - 1), np.zeros((2, OBS_DIM)), np.zeros(()),
                                 'abc', [[1.0, 2.0]]])
def test_wrong_observation_shape(humanoid, obs):
    with pytest.raises(ObservationError, match=r'obs: expected') as info:
        humanoid.act(obs)
    assert str(info.value).count(': obs:') == 1


def test_batch_with_nan_names_the_row(humanoid):
    x = np.zeros((3, OBS_DIM))
    x[2, 5] = np.nan
    with pytest.raises(ObservationError, match=r'\(row 2\) at index 5'):
        humanoid.act_batch(x)


# ---- bad files ---------------------------------------------------------------------------
def _load_error(path, kind, pattern):
    with pytest.raises(kind) as info:
        OnnxPolicy(str(path))
    err = info.value
    assert isinstance(err, PolicyError) and str(path) in str(err)
    assert '\n' not in str(err) and 'Traceback' not in str(err)
    assert err.path == str(path)
    assert pytest.importorskip('re').search(pattern, str(err)), str(err)
    return err


def test_missing_file(tmp_path):
    _load_error(tmp_path / 'nope.onnx', PolicyFileError, 'no such file')


def test_folder(tmp_path):
    _load_error(tmp_path, PolicyFileError, 'is a folder.*symphony export')


def test_torch_file_is_named_and_the_export_suggested(tmp_path):
    # The first thing a user may hand the deploy side: best_actor.pt from a run folder.
    import torch
    torch.save({'actor': torch.zeros(3)}, tmp_path / 'best_actor.pt')
    _load_error(tmp_path / 'best_actor.pt', PolicyFileError,
                r'is a PyTorch file.*symphony export .*best_actor\.pt -o policy\.onnx')


def test_empty_file(tmp_path):
    (tmp_path / 'e.onnx').write_bytes(b'')
    _load_error(tmp_path / 'e.onnx', PolicyFileError, r'empty \(0 bytes\)')


def test_truncated_file(runs, tmp_path):
    data = open(runs['humanoid']['onnx'], 'rb').read()
    for cut in (len(data) // 2, len(data) - 7, 10):
        (tmp_path / 't.onnx').write_bytes(data[:cut])
        with pytest.raises((PolicyFileError, MissingContractError, ContractError)) as info:
            OnnxPolicy(str(tmp_path / 't.onnx'))
        assert 'truncated' in str(info.value) or 'not valid JSON' in str(info.value)


def test_non_onnx_bytes(tmp_path):
    for i, data in enumerate([b'not an onnx file at all', b'\x89PNG\r\n\x1a\n' + bytes(100),
                              b'{"obs_dim": 376}']):
        (tmp_path / f'{i}.onnx').write_bytes(data)
        _load_error(tmp_path / f'{i}.onnx', PolicyFileError, 'not an ONNX model')


def test_onnx_without_metadata(runs, tmp_path):
    model = onnx_graph(runs['pendulum']['actor'])
    onnx.save(model, str(tmp_path / 'plain.onnx'))
    err = _load_error(tmp_path / 'plain.onnx', MissingContractError,
                      r'symphony_ros\.contract: no symphony_ros contract')
    assert err.field == 'symphony_ros.contract'


def test_newer_format(runs, tmp_path, rewrite_contract):
    def bump(text):
        doc = json.loads(text)
        doc['format_version'] += 1
        return json.dumps(doc)
    rewrite_contract(runs['pendulum']['onnx'], str(tmp_path / 'n.onnx'), bump)
    _load_error(tmp_path / 'n.onnx', NewerFormatError, r'format_version: contract format 2 '
                r'is newer than this runtime reads \(1\)')


@pytest.mark.parametrize('field, edit', [
    ('obs_dim', lambda d: d.update(obs_dim=5, observation=dict(
        d['observation'], terms=[['observation', 5]]))),
    ('act_dim', lambda d: d.update(act_dim=2)),
])
def test_dims_disagreeing_with_graph(runs, tmp_path, field, edit,
                                     rewrite_contract):
    def change(text):
        doc = json.loads(text)
        edit(doc)
        return json.dumps(doc)
    rewrite_contract(runs['pendulum']['onnx'], str(tmp_path / 'd.onnx'), change)
    _load_error(tmp_path / 'd.onnx', ContractError, rf'{field}: contract says')


def test_graph_io_name_disagreeing(runs, tmp_path, rewrite_contract):
    rewrite_contract(runs['pendulum']['onnx'], str(tmp_path / 'n.onnx'),
                     lambda t: t.replace('"input_name":"obs"', '"input_name":"state"'))
    _load_error(tmp_path / 'n.onnx', ContractError, r"input_name: contract names graph input "
                r"'state', graph has \['obs'\]")


# ---- robot checks ------------------------------------------------------------------------
def test_the_right_robot_is_accepted(runs):
    robot = get_robot()
    OnnxPolicy(runs['humanoid']['onnx'], robot_joint_names=robot.joint_names,
               expected_dt=robot.control_dt)


def test_reordered_joints_are_refused(runs):
    names = list(get_robot().joint_names)
    names[5], names[9] = names[9], names[5]
    with pytest.raises(RobotMismatchError) as info:
        OnnxPolicy(runs['humanoid']['onnx'], robot_joint_names=names)
    err = info.value
    assert err.field == 'robot.joint_names'
    assert 'same joints in another order' in str(err) and "'right_hip_y'" in str(err)


def test_another_robots_joint_list_is_refused(runs, humanoid):
    other = [f'leg_{i}' for i in range(12)]
    with pytest.raises(RobotMismatchError) as info:
        humanoid.check_robot(other)
    text = str(info.value)
    assert "policy exported for robot 'humanoid' refuses this robot" in text
    assert f'policy drives {ACT_DIM} joints, robot has 12' in text
    assert 'robot lacks abdomen_y' in text and 'policy does not know leg_0' in text
    assert len(info.value.differences) == 3


def test_wrong_control_period_is_refused(runs, humanoid):
    with pytest.raises(RobotMismatchError, match=r'control_dt: .*trained at 0\.015 s, caller '
                       r'runs at 0\.02 s'):
        humanoid.check_robot(get_robot().joint_names, 0.02)
    humanoid.check_robot(get_robot().joint_names, 0.015 * (1 + 1e-9))


def test_joints_and_dt_are_reported_together(humanoid):
    names = list(get_robot().joint_names)[:-1]
    with pytest.raises(RobotMismatchError) as info:
        humanoid.check_robot(names, 0.01)
    assert info.value.field == 'robot.joint_names, control_dt'
    assert len(info.value.differences) == 3


def test_policy_without_robot_refuses_joint_names(runs):
    with pytest.raises(RobotMismatchError, match=r"robot: policy was exported for env "
                       r"'InvertedPendulum-v4' with no robot"):
        OnnxPolicy(runs['pendulum']['onnx'], robot_joint_names=['hinge'])
    OnnxPolicy(runs['pendulum']['onnx'], expected_dt=0.04)


def test_full_robot_description_check(humanoid):
    robot = get_robot()
    humanoid.check_description(robot)
    gear = robot.gear.copy()
    gear[6] *= 2
    ctrl = robot.ctrl_range.copy()
    ctrl[0] = (-1.0, 1.0)
    with pytest.raises(RobotMismatchError) as info:
        humanoid.check_robot(robot.joint_names, robot.control_dt, gear, ctrl)
    assert info.value.field == 'robot.gear, robot.ctrl_range'
    text = str(info.value)
    assert 'gear: right_knee policy 200.0 vs robot 400.0' in text
    assert 'ctrl_range: abdomen_y policy [-0.4, 0.4] vs robot [-1.0, 1.0]' in text
