"""Fixtures of the watchdog fault-injection suite."""

from __future__ import annotations

import time

import pytest
from reaction_table import REACTIONS


@pytest.fixture(scope='session')
def reactions():
    """Return the session's reaction-time recorder (the root conftest prints its table)."""
    return REACTIONS


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
