"""Shared pytest setup: every test process gets its own DDS domain, limited to localhost."""

import os

import pytest


def _domain_for_process() -> int:
    # Spread concurrent pytest processes over domains 1..100 (ROS allows 0..101 on Linux).
    return 1 + os.getpid() % 100


os.environ['ROS_DOMAIN_ID'] = str(_domain_for_process())
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_STATIC_PEERS', None)


@pytest.fixture
def ros_env():
    """Environment for child processes: this process's isolated DDS domain, localhost only."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = os.environ['ROS_DOMAIN_ID']
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONUNBUFFERED'] = '1'
    return env
