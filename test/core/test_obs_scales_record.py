"""A run's observation factors travel with its checkpoints; a resume or export compares them.

A spec is resumed and exported by name: had its factors changed since the run was trained,
the networks would be fed inputs of other sizes than they learned on.
"""

import pytest

from symphony_ros.core.checkpoint import (CheckpointError, atomic_torch_save, latest_checkpoint,
                                          load_checkpoint, safe_torch_load)
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.snapshot import BEST
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.errors import ExportError
from symphony_ros.policy.export import export_policy
from symphony_ros.robot.description import get_robot

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, steps):
    return TrainConfig(env='symphony/Humanoid-v4', steps=steps, run_dir=str(run_dir), seed=1,
                       eval_every=60, eval_episodes=1, checkpoint_every=40, threads=1,
                       obs_spec='humanoid_v4_torque', overrides=dict(TINY))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp('torque_run')
    with Trainer(_cfg(run_dir, 80), progress=False, tensorboard=False) as trainer:
        trainer.run()
    return run_dir


def _alter(path):
    state = safe_torch_load(str(path))
    state['obs_scales'] = {'previous_action': [1.0] * 17}
    atomic_torch_save(state, str(path))


def test_checkpoints_and_the_best_actor_record_the_factors(run):
    gear = [float(g) for g in get_robot('humanoid').gear]
    assert load_checkpoint(latest_checkpoint(str(run)))['obs_scales'] == {'previous_action': gear}
    assert safe_torch_load(str(run / BEST))['obs_scales'] == {'previous_action': gear}


def test_a_resume_with_the_same_factors_goes_on(run, tmp_path):
    import shutil
    copy = tmp_path / 'same'
    shutil.copytree(run, copy)
    with Trainer(_cfg(copy, 120), resume=True, progress=False, tensorboard=False) as trainer:
        assert trainer.step_count == 80


def test_a_resume_onto_changed_factors_is_refused_naming_the_term(run, tmp_path):
    import shutil
    copy = tmp_path / 'changed'
    shutil.copytree(run, copy)
    ckpt = latest_checkpoint(str(copy))
    _alter(ckpt)
    with pytest.raises(CheckpointError, match='previous_action') as err:
        Trainer(_cfg(copy, 120), resume=True, progress=False, tensorboard=False)
    assert ckpt in str(err.value) and 'humanoid_v4_torque' in str(err.value)


def test_an_export_of_an_actor_trained_on_other_factors_is_refused(run, tmp_path):
    best = tmp_path / 'best_actor.pt'
    best.write_bytes((run / BEST).read_bytes())
    _alter(best)
    out = tmp_path / 'p.onnx'
    with pytest.raises(ExportError, match='obs_scales.*previous_action'):
        export_policy(str(best), str(out))
    assert not out.exists()
    export_policy(str(run / BEST), str(out))   # the run's own actor exports
    assert out.exists()


def test_older_files_without_factors_are_not_compared(run, tmp_path):
    best = tmp_path / 'old.pt'
    state = safe_torch_load(str(run / BEST))
    del state['obs_scales']
    atomic_torch_save(state, str(best))
    export_policy(str(best), str(tmp_path / 'old.onnx'))
    assert (tmp_path / 'old.onnx').stat().st_size > 0
