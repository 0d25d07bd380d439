"""An exported policy read back into a torch actor: both graph variants, and a refusal."""

import onnx
import onnx.numpy_helper
import pytest
import torch

from symphony_ros import paths
from symphony_ros.policy.errors import PolicyFileError
from symphony_ros.policy.unfold import FOLDED_SIGMA, actor_from_policy
from shipped_models import G1_FIRST

"""A one-net folded graph (the symmetric files evaluate their net twice)."""


@pytest.mark.parametrize('robot,variant', [('humanoid', 'direct'), ('g1', 'folded')])
def test_a_shipped_policy_comes_back_with_its_provenance(robot, variant):
    path = paths.shipped_policy_path(robot)
    model = onnx.load(path)
    assert f'({variant} graph)' in model.doc_string
    src = actor_from_policy(path)  # refuses an actor whose actions differ from the file's
    assert src.step > 0 and src.path == path
    assert src.obs_spec == ('humanoid_v4_full' if robot == 'humanoid' else 'velocity_gait_turn')
    sigma = torch.sigmoid(src.actor.net.resine.s.detach())
    if variant == 'folded':
        assert torch.all(sigma == FOLDED_SIGMA)
    else:  # the direct graph keeps the trained scales
        assert sigma.std() > 0


def test_weights_that_do_not_act_as_the_file_are_refused(tmp_path):
    model = onnx.load(G1_FIRST)
    for init in model.graph.initializer:
        if init.name == 'head.bias':  # the graph now computes another function
            init.name = 'head.bias_moved'
    for node in model.graph.node:
        node.input[:] = [('head.bias_moved' if i == 'head.bias' else i) for i in node.input]
    bad = tmp_path / 'renamed.onnx'
    onnx.save(model, str(bad))
    with pytest.raises(PolicyFileError, match='neither a direct nor a folded') as err:
        actor_from_policy(str(bad))
    assert str(bad) in str(err.value)


def test_a_graph_that_computes_another_function_is_refused(tmp_path):
    model = onnx.load(G1_FIRST)
    consts = [n for n in model.graph.node if n.op_type == 'Constant'
              and onnx.numpy_helper.to_array(n.attribute[0].t).size == 1
              and float(onnx.numpy_helper.to_array(n.attribute[0].t)) == 1.5]
    assert len(consts) == 1  # the 1.5 of ReSine's sigmoid(1.5 sin u)
    consts[0].attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(
        onnx.numpy_helper.to_array(consts[0].attribute[0].t) * 2))
    bad = tmp_path / 'other.onnx'
    onnx.save(model, str(bad))
    with pytest.raises(PolicyFileError, match='rebuilt from its weights differs') as err:
        actor_from_policy(str(bad))
    assert str(bad) in str(err.value)
