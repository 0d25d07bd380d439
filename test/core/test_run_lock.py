"""One training process per run folder: a second one is refused while the first holds it."""

import os
import subprocess
import sys

import pytest
from process_helpers import RUN_DIR_HOLDER

from symphony_ros.core.checkpoint import CheckpointError, latest_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=50)
TRY = ('import sys\n'
       'from symphony_ros.core.run_dir import RunDirError\n'
       'from symphony_ros.core.run_lock import lock_run_dir\n'
       'try:\n'
       '    lock_run_dir(sys.argv[1])\n'
       'except RunDirError:\n'
       '    sys.exit(3)\n')


def _config(run, steps=100):
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run), seed=3,
                       eval_every=100, eval_episodes=1, checkpoint_every=50, threads=1,
                       overrides=TINY)


def _trainer(run, steps=100, resume=False):
    return Trainer(_config(run, steps), resume=resume, progress=False, tensorboard=False)


def _another_process_may_lock(run) -> bool:
    code = subprocess.run([sys.executable, '-c', TRY, str(run)], timeout=120).returncode
    assert code in (0, 3), code
    return code == 0


def test_a_folder_in_use_by_another_process_is_refused_until_it_lets_go(tmp_path):
    run = tmp_path / 'run'
    with _trainer(run) as first:
        first.run()
        # While this process trains in it, no other process may.
        assert not _another_process_may_lock(run)
    assert _another_process_may_lock(run)
    before = sorted(os.listdir(run))
    holder = subprocess.Popen([sys.executable, '-c', RUN_DIR_HOLDER, str(run)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(RunDirError, match=r'run folder .*run is in use by another training '
                                              r"process \(find it with: pgrep -af 'run'\)"):
            _trainer(run, steps=200, resume=True)
        assert sorted(os.listdir(run)) == before   # the refused resume wrote nothing
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    # The holder's end released the folder (the kernel drops a dead process's lock).
    with _trainer(run, steps=200, resume=True) as resumed:
        resumed.run()
    assert resumed.step_count == 200


def test_one_process_may_build_a_trainer_again_on_its_folder(tmp_path):
    run = tmp_path / 'run'
    first = _trainer(run)
    first.run()
    # A second trainer in the same process (a node restarting its run) is not refused.
    second = _trainer(run, steps=150, resume=True)
    first.close()
    assert not _another_process_may_lock(run)   # the second still holds it
    second.close()
    assert _another_process_may_lock(run)


def test_a_with_block_that_fails_still_lets_go_of_the_folder(tmp_path):
    """An error inside ``with Trainer(...)`` releases the folder, as the end of the block does.

    A script or node whose loop raises would otherwise hold the run until its process ends,
    and the user's next ``--resume`` from another shell would be refused.
    """
    run = tmp_path / 'run'
    with pytest.raises(KeyboardInterrupt):
        with _trainer(run) as trainer:
            trainer.run(max_steps=60)
            assert not _another_process_may_lock(run)
            raise KeyboardInterrupt
    assert _another_process_may_lock(run)
    with _trainer(run, steps=100, resume=True) as resumed:
        assert 0 < resumed.step_count <= 60        # from its newest checkpoint


def test_a_refused_resume_lets_go_of_the_folder_at_once(tmp_path):
    """A start refused after the lock was taken (a damaged checkpoint) releases it.

    The refusal names what to fix; the process that made it (a node, a notebook) lives on,
    and the fixed resume may come from another shell.
    """
    run = tmp_path / 'run'
    with _trainer(run) as first:
        first.run()
    newest = latest_checkpoint(str(run))
    with open(newest, 'wb') as fh:
        fh.write(b'a damaged file')
    with pytest.raises(CheckpointError, match='is intact: delete'):
        _trainer(run, steps=200, resume=True)
    assert _another_process_may_lock(run)
    os.remove(newest)
    with _trainer(run, steps=200, resume=True) as resumed:
        resumed.run()
    assert resumed.step_count == 200
