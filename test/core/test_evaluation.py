"""Evaluation seeds: the fixed protocol repeats them, the paper protocol draws fresh ones."""

import pytest

from symphony_ros.core.evaluation import episode_seeds


def test_fixed_seeds_repeat_and_paper_seeds_are_fresh_but_reproducible():
    assert episode_seeds('fixed', 3, 100, 4) == episode_seeds('fixed', 3, 900, 4)
    assert episode_seeds('fixed', 3, 100, 2) == [10_003, 10_004]
    first, second = episode_seeds('paper', 3, 100, 25), episode_seeds('paper', 3, 200, 25)
    assert len(set(first) | set(second)) == 50
    assert episode_seeds('paper', 3, 100, 25) == first       # resume-exact
    assert episode_seeds('paper', 4, 100, 25) != first
    with pytest.raises(ValueError, match='unknown evaluation protocol'):
        episode_seeds('best', 3, 100, 4)
