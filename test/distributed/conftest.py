"""A local Ray instance of 2 CPUs shared by the distributed tests of one pytest process."""

import pytest


@pytest.fixture(scope='session')
def ray_local():
    """Start Ray (2 CPUs, no dashboard) once; yield the address a subprocess can join."""
    import ray
    ray.init(num_cpus=2, include_dashboard=False, logging_level='warning')
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
