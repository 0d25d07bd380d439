"""Export: graph shape, parity against torch, contract contents, atomic and loud failures."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from symphony_ros.core.snapshot import load_actor
from symphony_ros.policy.contract import METADATA_KEY, PolicyContract
from symphony_ros.policy.errors import ExportError, ParityError, PolicyError
from symphony_ros.policy.export import export_policy, weights_sha256
from symphony_ros.policy.graph import onnx_graph
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

OBS_DIM = get_obs_spec('humanoid_v4_full').dim
ACT_DIM = get_robot('humanoid').n_joints


def _session(path):
    return ort.InferenceSession(path, providers=['CPUExecutionProvider'])


def test_graph_has_dynamic_batch_named_io_and_opset(runs):
    path = runs['humanoid']['onnx']
    model = onnx.load(path)
    assert max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')) >= 17
    sess = _session(path)
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.type, out.name, out.type) == ('obs', 'tensor(float)', 'action',
                                                        'tensor(float)')
    assert isinstance(inp.shape[0], str) and inp.shape[1] == OBS_DIM and out.shape[1] == ACT_DIM
    for batch in (1, 7, 300):
        y = sess.run(None, {'obs': np.random.randn(batch, OBS_DIM).astype(np.float32)})[0]
        assert y.shape == (batch, ACT_DIM) and np.all(np.abs(y) <= 1.0)


@pytest.mark.parametrize('name', ['pendulum', 'humanoid'])
def test_parity_with_torch_on_replay_observations(runs, name):
    r = runs[name]
    result = r['result']
    assert result.max_abs_error < 1e-5 and result.parity_samples == 1000
    assert result.parity_source.endswith('replay_000001000.pt')
    # Independent check: the deterministic actor (no noise), not the noisy forward.
    x = np.random.default_rng(1).standard_normal((1000, r['actor'].obs_dim)) * 5
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = r['actor'].deterministic(torch.from_numpy(x)).numpy()
    got = _session(r['onnx']).run(None, {'obs': x})[0]
    assert np.abs(got - ref).max() < 1e-5


def test_parity_falls_back_to_sampled_observations(tmp_path, make_run):
    make_run(str(tmp_path / 'run'), 'InvertedPendulum-v4', 4, 1, replay_rows=0)
    result = export_policy(str(tmp_path / 'run'), str(tmp_path / 'p.onnx'), samples=300)
    assert result.parity_source == 'sampled' and result.parity_samples == 300


def test_checkpoint_file_source_uses_its_own_replay(runs, tmp_path):
    ckpt = os.path.join(runs['pendulum']['run'], 'checkpoints', 'ckpt_000001000.pt')
    result = export_policy(ckpt, str(tmp_path / 'c.onnx'))
    assert result.parity_source.endswith('replay_000001000.pt')
    assert result.contract.weights_sha256 == runs['pendulum']['result'].contract.weights_sha256


def test_humanoid_contract_carries_the_robot(runs):
    c = runs['humanoid']['result'].contract
    robot = get_robot('humanoid')
    assert c.robot is not None and c.robot.name == 'humanoid'
    assert list(c.robot.joint_names) == list(robot.joint_names)
    assert np.allclose(c.robot.gear, robot.gear)
    assert np.allclose(c.robot.ctrl_range, robot.ctrl_range)
    assert c.robot.xml_sha256 == robot.xml_sha256
    assert c.control_dt == pytest.approx(robot.control_dt)
    assert c.observation.name in ('humanoid_v4_full', 'gym_humanoid_v4')
    assert c.observation.dim == c.obs_dim == OBS_DIM and c.act_dim == ACT_DIM
    assert c.observation.quaternion_convention == 'wxyz'
    assert c.algorithm == 'symphony' and c.algorithm_config['hidden_dim'] == 32
    assert c.training_steps == 1000 and c.test_return == 42.5
    assert c.train_config['env'] == 'Humanoid-v4'
    assert c.weights_sha256 == weights_sha256(load_actor(runs['humanoid']['run']).actor)


def test_gym_contract_has_dims_only(runs):
    c = runs['pendulum']['result'].contract
    assert c.robot is None and c.observation.name == 'gym:InvertedPendulum-v4'
    assert c.observation.terms == (('observation', 4),) and c.act_dim == 1
    assert c.control_dt == pytest.approx(0.04)


def test_explicit_obs_spec_is_recorded(tmp_path, make_run):
    make_run(str(tmp_path / 'run'), 'Humanoid-v4', get_obs_spec('proprioceptive').dim, ACT_DIM,
             obs_spec='proprioceptive', replay_rows=0)
    c = export_policy(str(tmp_path / 'run'), str(tmp_path / 'p.onnx'), samples=50).contract
    assert c.observation.name == 'proprioceptive'
    assert c.observation.terms[-1] == ('previous_action', ACT_DIM)


def test_stored_metadata_equals_returned_contract(runs):
    model = onnx.load(runs['humanoid']['onnx'])
    (meta,) = [p for p in model.metadata_props if p.key == METADATA_KEY]
    assert PolicyContract.from_json(meta.value) == runs['humanoid']['result'].contract


def test_weights_hash_changes_with_weights(runs):
    actor = load_actor(runs['pendulum']['run']).actor
    before = weights_sha256(actor)
    assert weights_sha256(actor) == before
    with torch.no_grad():
        actor.net.linear_in.bias[0] += 1e-6
    assert weights_sha256(actor) != before


def test_parity_failure_is_loud_and_writes_nothing(runs, tmp_path):
    out = tmp_path / 'p.onnx'
    with pytest.raises(ParityError, match=r'parity: onnxruntime differs from torch'):
        export_policy(runs['pendulum']['run'], str(out), tol=0.0, samples=10)
    assert os.listdir(tmp_path) == []  # neither the file nor a temp file


def test_refuses_to_overwrite_without_flag(runs, tmp_path):
    out = tmp_path / 'p.onnx'
    out.write_bytes(b'keep me')
    with pytest.raises(ExportError, match='exists'):
        export_policy(runs['pendulum']['run'], str(out), samples=10)
    assert out.read_bytes() == b'keep me'
    export_policy(runs['pendulum']['run'], str(out), samples=10, overwrite=True)
    assert onnx.load(str(out)).graph.node
    assert sorted(os.listdir(tmp_path)) == ['p.onnx']


def test_dims_disagreeing_with_the_robot_are_refused(tmp_path, make_run):
    make_run(str(tmp_path / 'run'), 'Humanoid-v4', OBS_DIM, 5, replay_rows=0)
    with pytest.raises(ExportError, match=r'act_dim: actor emits 5 actions but robot'):
        export_policy(str(tmp_path / 'run'), str(tmp_path / 'p.onnx'))


def test_unreadable_source_is_an_export_error(tmp_path):
    bad = tmp_path / 'best_actor.pt'
    bad.write_bytes(b'\x00garbage')
    with pytest.raises(ExportError) as info:
        export_policy(str(bad), str(tmp_path / 'p.onnx'))
    assert isinstance(info.value, PolicyError) and str(bad) in str(info.value)


def test_folded_graph_is_preferred_and_smaller(runs):
    assert runs['humanoid']['result'].graph_variant == 'folded'
    nodes = len(onnx.load(runs['humanoid']['onnx']).graph.node)
    direct = len(onnx_graph(runs['humanoid']['actor'], variant='direct').graph.node)
    assert nodes < direct


def test_direct_graph_is_the_fallback(runs, tmp_path, monkeypatch):
    import symphony_ros.policy.export as ex
    real, calls = ex.check_parity, []

    def first_fails(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise ParityError(None, 'parity', 'injected')
        return real(*args, **kw)
    monkeypatch.setattr(ex, 'check_parity', first_fails)
    result = export_policy(runs['pendulum']['run'], str(tmp_path / 'p.onnx'), samples=50)
    assert result.graph_variant == 'direct' and len(calls) == 2


@pytest.mark.parametrize('s_value, grad_dropout', [(-4.0, 0.0), (3.0, 0.5)])
def test_parity_holds_for_extreme_resine_scales(tmp_path, make_run, s_value, grad_dropout):
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import ActorSource, load_actor
    make_run(str(tmp_path / 'run'), 'Humanoid-v4', OBS_DIM, ACT_DIM, hidden=64, replay_rows=0)
    src = load_actor(str(tmp_path / 'run'))
    actor = Actor(OBS_DIM, ACT_DIM, 64, grad_dropout=grad_dropout).eval()
    with torch.no_grad():
        actor.net.resine.s.fill_(s_value)
    src = ActorSource(**dict(vars(src), actor=actor))
    result = export_policy(src, str(tmp_path / 'p.onnx'), samples=500)
    assert result.max_abs_error < 1e-5
