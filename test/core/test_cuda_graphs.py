"""Updates replayed as CUDA graphs learn exactly as eager updates do (the CUDA half needs a GPU).

What a recorded graph could get wrong: a tensor replaced instead of updated in place (the
baseline m, the anchor weight), a setting baked in at recording (the anchor weight of that
step), a graph replayed for a batch it does not fit (train_actor, anchor on or off).
"""

import pytest
import torch

from symphony_ros.core.agent import Symphony
from symphony_ros.core.config import get_config
from symphony_ros.core.replay import Batch

CFG = get_config('s3', hidden_dim=32, critic_heads=4, batch_size=64)
OBS, ACT, UPDATES = 11, 3, 40
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


def test_an_agent_off_cuda_refuses_graphs():
    agent = Symphony(OBS, ACT, CFG, 'cpu')
    with pytest.raises(ValueError, match='need a CUDA device, the agent is on cpu'):
        agent.use_cuda_graphs()
    assert agent.graphed is None


def test_the_baseline_and_the_anchor_weight_change_in_place():
    agent = Symphony(OBS, ACT, CFG, 'cpu')
    m, weight = agent.m, agent._anchor_weight
    agent.set_anchor()
    agent.anchor_weight = 2.5
    agent.update(_batches(1, 'cpu')[0])
    assert agent.m is m and agent._anchor_weight is weight
    assert float(weight) == 2.5 and agent.anchor_weight == 2.5 and float(m) != 0.0
    agent.load_state_dict(Symphony(OBS, ACT, CFG, 'cpu').state_dict())
    assert agent.m is m and float(m) == 0.0


def _batches(n, device):
    g = torch.Generator().manual_seed(5)
    size = CFG.batch_size

    def one():
        return Batch(torch.randn(size, OBS, generator=g), torch.rand(size, ACT, generator=g) * 2
                     - 1, torch.randn(size, 1, generator=g), torch.randn(size, OBS, generator=g),
                     (torch.rand(size, 1, generator=g) < 0.05).float())
    return [Batch(*(t.to(device) for t in one()[:5])) for _ in range(n)]


def _train(graphs):
    """UPDATES updates: the actor frozen every 5th, an anchor from update 15 on a ramp."""
    torch.manual_seed(0)
    agent = Symphony(OBS, ACT, CFG, 'cuda')
    if graphs:
        agent.use_cuda_graphs()
    losses = []
    for i, batch in enumerate(_batches(UPDATES, 'cuda')):
        if i == 15:
            agent.set_anchor()
        if i >= 15:
            agent.anchor_weight = 4.0 * (1 - i / UPDATES)
        torch.cuda.manual_seed(1000 + i)  # each update's draws, whichever way it launches
        losses.append(float(agent.update(batch, train_actor=i % 5 != 3)['loss']))
    return agent, losses


@needs_cuda
def test_graph_replayed_updates_follow_the_eager_ones():
    eager, eager_losses = _train(graphs=False)
    graphed, graph_losses = _train(graphs=True)
    # train_actor true/false, without and with the anchor: four graphs, each recorded once
    assert graphed.graphed.recordings == 4
    torch.testing.assert_close(graph_losses, eager_losses, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(graphed.state_dict()['actor'].values(),
                            eager.state_dict()['actor'].values()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(graphed.m, eager.m)
