"""Bag errors name the part at fault: missing storage files, a damaged storage file."""

import os
import shutil

import pytest

from symphony_ros.bag.reader import BagError, open_bag


def test_a_folder_with_only_metadata_yaml_says_the_storage_files_are_missing(sim_bag,
                                                                             tmp_path):
    dst = tmp_path / 'only_meta'
    dst.mkdir()
    shutil.copy(os.path.join(sim_bag.path, 'metadata.yaml'), dst)
    db3 = [f for f in os.listdir(sim_bag.path) if f.endswith('.db3')][0]
    with pytest.raises(BagError) as exc:
        open_bag(str(dst))
    text = str(exc.value)
    assert 'no metadata.yaml' not in text
    assert f'holds metadata.yaml but none of the storage files it lists ({db3})' in text


def test_a_truncated_storage_file_is_not_blamed_on_metadata_yaml(tmp_path, policies):
    from bag_fixtures import write_sim_bag
    path = str(tmp_path / 'cut')
    write_sim_bag(path, policies['recorded'], ticks=60, storage='mcap')
    mcap = os.path.join(path, 'cut.mcap')
    with open(mcap, 'r+b') as f:
        f.truncate(os.path.getsize(mcap) // 2)
    bag = open_bag(path)
    assert not any(w.startswith('metadata.yaml') for w in bag.warnings), bag.warnings
    assert any('a storage file is truncated or damaged' in w for w in bag.warnings)


def test_plots_have_whole_episode_numbers_and_labelled_axes(sim_bag, monkeypatch, tmp_path):
    from symphony_ros.bag import plots
    from symphony_ros.bag.evaluate import evaluate_bag
    drawn = {}
    monkeypatch.setattr(plots, '_save', lambda fig, path: drawn.setdefault(
        os.path.basename(path), fig))
    ev = evaluate_bag(sim_bag.path, candidate=None)
    ev.episodes = ev.episodes[:1]                        # the one-episode case
    assert plots.plot_returns(ev, str(tmp_path / 'return.png'))
    ax = drawn['return.png'].axes[0]
    lo, hi = ax.get_xlim()
    assert lo <= -0.5 and hi >= 0.5
    assert all(float(t).is_integer() for t in ax.get_xticks() if lo <= t <= hi)
    ev = evaluate_bag(sim_bag.path)
    assert plots.plot_actions(ev, str(tmp_path / 'actions.png'))
    fig = drawn['actions.png']
    assert fig.supxlabel is not None and 'time' in fig._supxlabel.get_text()
    assert 'action' in fig._supylabel.get_text()
