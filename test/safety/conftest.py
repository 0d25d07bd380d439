"""Fixtures of the watchdog fault-injection suite, and its reaction-time table."""

from __future__ import annotations

import os
import time
from typing import Dict, List, Tuple

import numpy as np
import pytest

TABLE_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'out', 'watchdog',
                          'reaction_times.md')


class Reactions:
    """Reaction times per fault: (what is measured, seconds...)."""

    def __init__(self):
        self.rows: Dict[str, Tuple[str, List[float]]] = {}

    def add(self, fault: str, measured: str, seconds: float) -> None:
        """Record one reaction time."""
        self.rows.setdefault(fault, (measured, []))[1].append(seconds)

    def table(self) -> str:
        """Markdown table: fault, measured until, n, p50, max (ms)."""
        lines = ['| fault injected | reaction measured until | n | p50 (ms) | max (ms) |',
                 '|---|---|---|---|---|']
        for fault, (measured, values) in self.rows.items():
            v = np.array(values) * 1e3
            lines.append(f'| {fault} | {measured} | {len(v)} | {np.median(v):.1f} | '
                         f'{v.max():.1f} |')
        return '\n'.join(lines) + '\n'


REACTIONS = Reactions()


@pytest.fixture(scope='session')
def reactions():
    """Return the session's reaction-time recorder."""
    return REACTIONS


def pytest_terminal_summary(terminalreporter):
    """Print the reaction-time table and write it where the README can take it from.

    Under pytest-xdist the rows stay in the workers: say so rather than print nothing.
    """
    if not REACTIONS.rows:
        if getattr(terminalreporter.config.option, 'numprocesses', None):
            terminalreporter.write_line('watchdog reaction times: run the safety tests '
                                        'without -n for the table')
        return
    table = REACTIONS.table()
    os.makedirs(os.path.dirname(TABLE_PATH), exist_ok=True)
    with open(TABLE_PATH, 'w') as f:
        f.write(table)
    terminalreporter.write_sep('=', 'watchdog reaction times over DDS')
    terminalreporter.write(table)
    terminalreporter.write_line(f'(written to {os.path.normpath(TABLE_PATH)})')


@pytest.fixture(scope='session')
def ros_context():
    """Give the suite its own rclpy context, safe from other tests' init/shutdown."""
    import rclpy
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


@pytest.fixture(scope='module')
def driver(ros_context):
    """Robot/policy/operator node publishing healthy inputs."""
    from watchdog_harness import Driver
    d = Driver(ros_context)
    yield d
    d.close()


@pytest.fixture(scope='module')
def watchdog(driver):
    """Start a watchdog process with the suite's parameters, up and publishing."""
    from watchdog_harness import WatchdogProcess
    wd = WatchdogProcess()
    try:
        start = time.monotonic()
        driver.wait_for(lambda: wd.proc.poll() is None and driver.outputs and driver.state,
                        30.0, 'watchdog start-up')
        assert wd.proc.poll() is None, wd.output_log()
        print(f'watchdog up in {time.monotonic() - start:.2f} s')
        yield wd
        assert wd.proc.poll() is None, 'watchdog died:\n' + wd.output_log()[-5000:]
    finally:
        code = wd.stop()
        print(f'watchdog exit code {code}; log tail:\n' + wd.output_log()[-3000:])


@pytest.fixture
def active(watchdog, driver):
    """Healthy inputs, any FAULT reset, armed and ACTIVE; yields (watchdog, driver)."""
    from watchdog_harness import make_active
    make_active(watchdog, driver)
    yield watchdog, driver
    driver.call(watchdog.service('disarm'))
