"""ament_python build of symphony_ros; also a plain pip package for use without a ROS distro."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'symphony_ros'


def tree(folder):
    """Return data_files entries installing ``folder`` recursively under share/PACKAGE."""
    entries = []
    for root, _, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.endswith('.pyc')]
        if paths:
            entries.append((os.path.join('share', PACKAGE, root), paths))
    return entries


NODES = ['mujoco_sim_node', 'policy_node', 'watchdog_node', 'trainer_node', 'teleop_node',
         'state_estimator_node']

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    # Robot files (symphony_ros.robot.get_robot finds shipped robots by name there).
    package_data={'symphony_ros.robot': ['robots/*.yaml']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
    ] + tree('config') + tree('urdf') + tree('models'),
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy',
        'torch>=2.1',
        'mujoco>=3.1',
        'gymnasium[mujoco]>=1.0',
        'onnx',
        'onnxruntime',
        # bag/writer.py and bag/mcap_recovery.py rely on rosbags 0.11 internals (tested there).
        'rosbags>=0.11,<0.12',
        'tqdm',
        'matplotlib',
        'pillow',
        'tensorboard',
        'pyyaml',
    ],
    extras_require={
        'pip-ros': [
            'ros-rclpy', 'ros-sensor-msgs', 'ros-std-msgs', 'ros-std-srvs',
            'ros-diagnostic-msgs', 'ros-nav-msgs', 'ros-geometry-msgs', 'ros-lifecycle-msgs',
            'ros-rosgraph-msgs', 'ros-rmw-fastrtps-cpp',
        ],
        # `symphony train --collectors N`: the collectors and learner run as Ray actors.
        # Pinned: every machine of a Ray cluster must run the same Ray version.
        'distributed': ['ray==2.60.0'],
        # mcap: an independent reader that checks the bags we write.
        'test': ['pytest', 'pytest-xdist', 'hypothesis', 'yourdfpy', 'flake8', 'pydocstyle',
                 'mcap', 'mcap-ros2-support'],
    },
    zip_safe=True,
    maintainer='symphony_ros developers',
    maintainer_email='dev@symphony-ros.invalid',
    description='Symphony humanoid controllers: train in MuJoCo, export to ONNX, deploy on ROS 2.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': ['symphony = symphony_ros.cli.main:main'] + [
            f'{node} = symphony_ros.nodes.{node}:main' for node in NODES],
    },
)
