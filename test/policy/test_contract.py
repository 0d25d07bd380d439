"""The contract schema: JSON round trip, version gate, and errors naming the field."""

import json

import pytest

from symphony_ros.policy.contract import (FORMAT_VERSION, METADATA_KEY, ObservationContract,
                                          PolicyContract, RobotContract, read_contract)
from symphony_ros.policy.errors import (ContractError, MissingContractError,
                                        NewerFormatError)


def _contract(**kw):
    robot = RobotContract(name='r', xml_sha256='ab' * 32, joint_names=('a', 'b'),
                          gear=(100.0, 25.0), ctrl_range=((-0.4, 0.4), (-1.0, 1.0)),
                          control_dt=0.015)
    fields = dict(env='E-v0', obs_dim=3, act_dim=2,
                  observation=ObservationContract('spec', (('x', 1), ('y', 2)), 'wxyz', True,
                                                  {'name': 'spec'}),
                  robot=robot, control_dt=0.015, algorithm='symphony',
                  algorithm_config={'hidden_dim': 8, 'betas': [0.6, 0.9]},
                  train_config={'env': 'E-v0', 'seed': 3}, training_steps=10,
                  test_return=-1.5, weights_sha256='cd' * 32, project_version='0.1.0',
                  opset=17, exported_at='2026-01-01T00:00:00+00:00')
    fields.update(kw)
    return PolicyContract(**fields)


def test_round_trip_is_exact():
    c = _contract()
    assert PolicyContract.from_json(c.to_json()) == c
    assert json.loads(c.to_json())['format_version'] == FORMAT_VERSION
    nobody = _contract(robot=None, control_dt=None, test_return=None)
    assert PolicyContract.from_json(nobody.to_json()) == nobody


def test_non_finite_numbers_become_null():
    c = _contract(train_config={'x': float('inf')})
    assert json.loads(c.to_json())['train_config'] == {'x': None}


def test_newer_format_is_refused_with_upgrade_hint():
    doc = json.loads(_contract().to_json())
    doc['format_version'] = FORMAT_VERSION + 1
    doc['some_future_field'] = 1
    with pytest.raises(NewerFormatError, match=r'm\.onnx: format_version: .*newer.*upgrade'):
        PolicyContract.from_json(json.dumps(doc), 'm.onnx')


def test_unknown_fields_of_the_same_version_are_ignored():
    doc = json.loads(_contract().to_json())
    doc['added_later'] = {'x': 1}
    assert PolicyContract.from_json(json.dumps(doc)) == _contract()


@pytest.mark.parametrize('edit, field', [
    (lambda d: d.pop('obs_dim'), 'obs_dim: missing'),
    (lambda d: d.update(act_dim='2'), 'act_dim: expected int, got str'),
    (lambda d: d.update(obs_dim=True), 'obs_dim: expected int, got bool'),
    (lambda d: d['robot'].pop('joint_names'), 'robot.joint_names: missing'),
    (lambda d: d['robot']['gear'].__setitem__(1, 'x'), r'robot.gear\[1\]: expected float'),
    (lambda d: d['observation']['terms'].__setitem__(0, ['x']),
     r'observation.terms\[0\]: expected a list with an entry 1'),
    (lambda d: d.update(obs_dim=4), 'observation.terms: sizes add up to 3, but obs_dim is 4'),
    (lambda d: d['robot'].update(joint_names=['a']), 'robot.joint_names: has 1 entries'),
    (lambda d: d['robot'].update(joint_names=['a', 'a']), 'robot.joint_names: joint names repeat'),
    (lambda d: d.update(control_dt=0.02), 'control_dt: 0.02 differs from robot.control_dt'),
    (lambda d: d.update(format_version=0), 'format_version: expected >= 1'),
    (lambda d: d['observation'].update(history=0), 'observation.history: expected >= 1 frames'),
    (lambda d: d['observation'].update(history=2),
     'observation.terms: sizes add up to 3 x 2 frames = 6, but obs_dim is 3'),
    (lambda d: d['observation'].update(history='2'), 'observation.history: expected int'),
])
def test_bad_fields_are_named(edit, field):
    doc = json.loads(_contract().to_json())
    edit(doc)
    with pytest.raises(ContractError, match=r'^m\.onnx: ' + field):
        PolicyContract.from_json(json.dumps(doc), 'm.onnx')


def test_not_json_and_missing_key():
    with pytest.raises(ContractError, match='is not valid JSON'):
        PolicyContract.from_json('{nope', 'm.onnx')
    with pytest.raises(MissingContractError, match=METADATA_KEY + r'.*keys present: other'):
        read_contract({'other': '1'}, 'm.onnx')


def test_term_lookup():
    o = ObservationContract('s', (('a', 2), ('b', 3)))
    assert [o.term_at(i) for i in range(5)] == ['a', 'a', 'b', 'b', 'b'] and o.dim == 5


def test_history_stacks_the_terms_and_older_files_have_one_frame():
    o = ObservationContract('s', (('a', 2), ('b', 1)), history=3)
    assert o.frame_dim == 3 and o.dim == 9
    assert [o.term_at(i) for i in (0, 2, 3, 8)] == ['a', 'b', 'a (1 steps ago)', 'b (2 steps ago)']
    stacked = _contract(obs_dim=9, observation=ObservationContract(
        'spec', (('x', 1), ('y', 2)), 'wxyz', True, {'name': 'spec'}, history=3))
    assert PolicyContract.from_json(stacked.to_json()) == stacked
    # Files written before the field: one frame, read as before.
    doc = json.loads(_contract().to_json())
    del doc['observation']['history']
    assert PolicyContract.from_json(json.dumps(doc)).observation.history == 1
