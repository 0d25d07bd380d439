"""A run and its contract record the ranges it trained under, not only the set's name."""

import json

import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint
from symphony_ros.policy.onnx_file import load_model
from symphony_ros.policy.contract import read_contract
from symphony_ros.robot.ranges import spec_changes

TINY = ['--hidden-dim', '16', '--critic-heads', '4', '--batch-size', '16', '--capacity', '400',
        '--explore-steps', '60']


def _train(run_dir, ranges, *flags):
    return main(['train', '--env', 'symphony/Humanoid-v4', '--run-dir', str(run_dir),
                 '--seed', '3', '--eval-every', '1000', '--eval-episodes', '1',
                 '--checkpoint-every', '50', '--threads', '1', '--no-progress',
                 '--randomize', str(ranges), *TINY, *flags])


def test_spec_changes_names_each_moved_knob_and_noise_term():
    old = {'ranges': {'push_velocity': [0.0, 0.5]}, 'obs_noise': {'qvel': 0.2}}
    new = {'ranges': {'push_velocity': [0.0, 1.0], 'push_first_s': [1.0, 5.0]},
           'obs_noise': {'qvel': 0.1}}
    assert spec_changes(old, new) == ['push_velocity [0, 0.5] -> [0, 1]',
                                      'push_first_s [0, 0] -> [1, 5]',
                                      'obs_noise.qvel 0.2 -> 0.1']
    assert spec_changes(new, json.loads(json.dumps(new))) == []
    # A knob left out sits at its nominal value; a kick's bearing left out is any bearing.
    assert spec_changes({'ranges': {'mass_scale': [1.0, 1.0]}}, {'ranges': {}}) == []
    assert spec_changes({'ranges': {'push_bearing_deg': [-180.0, 180.0]}}, {'ranges': {}}) == []
    assert spec_changes({}, {'ranges': {'push_bearing_deg': [60.0, 120.0]}}) == [
        'push_bearing_deg [-180, 180] -> [60, 120]']


def test_contract_and_resume_carry_the_ranges_a_named_set_drew_from(tmp_path, capsys):
    torch.set_num_threads(1)
    ranges, run = tmp_path / 'ranges.yaml', tmp_path / 'run'
    ranges.write_text('push_velocity: [0.0, 0.5]\nmass_scale: [0.9, 1.1]\n'
                      'robot_wide: [mass_scale]\nhard_share: 0.25\nhard_depth: 0.5\n')
    assert _train(run, ranges, '--steps', '120') == 0
    stored = load_checkpoint(latest_checkpoint(str(run)))['randomization']
    assert stored['ranges']['push_velocity'] == [0.0, 0.5]
    policy = str(tmp_path / 'p.onnx')
    assert main(['export', latest_checkpoint(str(run)), '-o', policy, '--samples', '20']) == 0
    contract = read_contract({p.key: p.value for p in load_model(policy).metadata_props})
    assert contract.randomization['ranges'] == stored['ranges']
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    out = capsys.readouterr().out
    # The file overrides the default set: its knobs and the set's others, all recorded.
    assert 'ranges         mass_scale [0.9, 1.1], payload_kg [-1, 3]' in out
    assert 'push_velocity [0, 0.5]' in out
    assert contract.randomization['robot_wide'] == ['mass_scale']
    assert ('drawn for the whole robot: mass_scale; 25% of episodes at 0.5 of the way to the '
            'hard corner') in ' '.join(out.split())
    # The same name, other ranges: the resume says which knob moved, and goes on under them.
    ranges.write_text('push_velocity: [0.0, 1.0]\nmass_scale: [0.9, 1.1]\n'
                      'robot_wide: [mass_scale]\nhard_share: 0.25\nhard_depth: 0.5\n')
    assert _train(run, ranges, '--resume', '--steps', '200') == 0
    err = capsys.readouterr().err
    assert f'--randomize {ranges}: the set has other ranges' in err
    assert 'push_velocity [0, 0.5] -> [0, 1]' in err and 'mass_scale' not in err
    newest = load_checkpoint(latest_checkpoint(str(run)))['randomization']
    assert newest['ranges']['push_velocity'] == [0.0, 1.0]
    # Resuming again under the same ranges says nothing.
    assert _train(run, ranges, '--resume', '--steps', '260') == 0
    assert 'the set has other ranges' not in capsys.readouterr().err
