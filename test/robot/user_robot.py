"""A user's robot made of files only: a small floating-base MJCF and its robot file."""

import os

import yaml

MJCF = """<mujoco model="biped3">
  <compiler angle="radian"/>
  <option timestep="0.004"/>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    <body name="base" pos="0 0 0.55">
      <freejoint name="root"/>
      <geom type="box" size="0.1 0.15 0.05" mass="4"/>
      <body name="left_leg" pos="0 0.1 -0.05">
        <joint name="left_hip" axis="0 1 0" range="-1.2 1.2"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.03" mass="0.6"/>
        <body name="left_shin" pos="0 0 -0.2">
          <joint name="left_knee" axis="0 1 0" range="0 2.0"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.22" size="0.025" mass="0.4"/>
          <body name="left_foot" pos="0 0 -0.24">
            <geom type="box" size="0.07 0.03 0.015" mass="0.1"/>
          </body>
        </body>
      </body>
      <body name="right_leg" pos="0 -0.1 -0.05">
        <joint name="right_hip" axis="0 1 0" range="-1.2 1.2"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.03" mass="0.6"/>
        <body name="right_shin" pos="0 0 -0.2">
          <joint name="right_knee" axis="0 1 0" range="0 2.0"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.22" size="0.025" mass="0.4"/>
          <body name="right_foot" pos="0 0 -0.24">
            <geom type="box" size="0.07 0.03 0.015" mass="0.1"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""

JOINTS = ['left_hip', 'left_knee', 'right_hip', 'right_knee']


def robot_doc(**changes):
    """Return the robot file's content as a dict, with top-level ``changes`` applied."""
    doc = {
        'name': 'biped3', 'mjcf': 'biped3.xml', 'action': {'kind': 'pd_position'},
        'timing': {'physics_dt': 0.005, 'frame_skip': 4}, 'base_body': 'base',
        'feet': ['left_foot', 'right_foot'], 'nominal_base_height': 0.47,
        'fall': {'min_base_height': 0.2, 'max_tilt': 1.0},
        'motors': {'m': {'effort_limit': 20.0, 'velocity_limit': 20.0, 'armature': 0.01,
                         'kp': 30.0, 'kd': 1.0, 'action_scale': 0.5}},
        'joints': [{'name': 'left_hip', 'motor': 'm', 'default': -0.2},
                   {'name': 'left_knee', 'motor': 'm', 'default': 0.4},
                   {'name': 'right_hip', 'motor': 'm', 'default': -0.2},
                   {'name': 'right_knee', 'motor': 'm', 'default': 0.4}],
        'tasks': {'velocity': {'episode_steps': 100}},
    }
    doc.update(changes)
    return doc


def write_robot(folder, doc=None, mjcf=MJCF):
    """Write biped3.xml and biped3.yaml into ``folder``; return the robot file's path."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'biped3.xml'), 'w') as f:
        f.write(mjcf)
    path = os.path.join(folder, 'biped3.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(robot_doc() if doc is None else doc, f, sort_keys=False)
    return path
