"""Shared pytest setup: every test process gets its own DDS domain, limited to localhost."""

import fcntl
import os
import signal
import tempfile

import pytest

DOMAIN_LOCKS = os.path.join(tempfile.gettempdir(), 'symphony_ros_test_domains')
_claimed = []


def _domain_for_process() -> int:
    """Claim a DDS domain (1..100) that no other test process on this machine holds.

    The claim is a lock on a file, held for this process's life and released by the OS
    however it ends, so concurrent pytest runs never share a domain (ROS allows 0..101 on
    Linux). Started from the pid, so processes rarely probe the same files.
    """
    os.makedirs(DOMAIN_LOCKS, exist_ok=True)
    start = os.getpid() % 100
    for i in range(100):
        domain = 1 + (start + i) % 100
        fd = os.open(os.path.join(DOMAIN_LOCKS, f'{domain}.lock'), os.O_CREAT | os.O_RDWR,
                     0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _claimed.append(fd)  # kept open: closing it would release the claim
        return domain
    return 1 + start  # a hundred test processes at once: share one


os.environ['ROS_DOMAIN_ID'] = str(_domain_for_process())
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_STATIC_PEERS', None)
# A pytest started in the background of a non-interactive shell (`cmd &` in a CI script) has
# SIGINT ignored, and every child would inherit that: nodes the tests stop with SIGINT would
# run on. A handled signal is reset to the default at exec, so the children obey SIGINT.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def ros_env():
    """Environment for child processes: this process's isolated DDS domain, localhost only."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = os.environ['ROS_DOMAIN_ID']
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONUNBUFFERED'] = '1'
    return env


@pytest.fixture
def short_lease_env(ros_env):
    """ros_env whose Fast DDS participant announces a 1 s lease (fast_dds_short_lease.xml).

    For children a test kills with SIGKILL: the graph forgets them in about a second, not
    after Fast DDS's default 20 s.
    """
    xml = os.path.join(os.path.dirname(__file__), 'fast_dds_short_lease.xml')
    return dict(ros_env, FASTDDS_DEFAULT_PROFILES_FILE=xml, FASTRTPS_DEFAULT_PROFILES_FILE=xml)


# The watchdog suite's reaction-time table (test/reaction_table.py): hooks here, in the one
# conftest a pytest-xdist controller loads, so the table gathers every worker's rows.
def pytest_sessionfinish(session):
    """In a pytest-xdist worker, pass the reaction times on to the controller."""
    from reaction_table import hand_to_controller
    hand_to_controller(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In the pytest-xdist controller, take a finished worker's reaction times."""
    from reaction_table import take_from_worker
    take_from_worker(node)


def pytest_terminal_summary(terminalreporter):
    """Print the reaction-time table and write it to out/watchdog/reaction_times.md."""
    from reaction_table import write_table
    write_table(terminalreporter)
