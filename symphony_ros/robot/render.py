"""Offscreen video of a recorded run: measured states replayed through the robot's MJCF.

MuJoCo renders offscreen with EGL (GPU or Mesa) or OSMesa. Which one is chosen by the
``MUJOCO_GL`` environment variable, read when mujoco creates its first context; this module
tries them in order in a child process so a failed backend cannot poison the caller's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional, Sequence

import numpy as np

from .description import RobotDescription, get_robot
from .state import RobotState

BACKENDS = ('egl', 'osmesa')
"""Offscreen OpenGL backends tried in order when MUJOCO_GL is not set."""


def offscreen_backend() -> Optional[str]:
    """Return the first MUJOCO_GL backend that can render here, or None."""
    probe = ('import mujoco; m = mujoco.MjModel.from_xml_string("<mujoco/>"); '
             'mujoco.Renderer(m, 8, 8).render()')
    candidates = [os.environ['MUJOCO_GL']] if os.environ.get('MUJOCO_GL') else BACKENDS
    for gl in candidates:
        env = dict(os.environ, MUJOCO_GL=gl, PYOPENGL_PLATFORM=gl)
        done = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True,
                              timeout=120)
        if done.returncode == 0:
            return gl
    return None


def render_gif(states: Sequence[RobotState], path: str, dt: float, fps: float = 15.0,
               size: tuple = (240, 320), robot: Optional[RobotDescription] = None) -> int:
    """Write an animated GIF of ``states`` (one per control period ``dt``); return its frames.

    Call in a process whose MUJOCO_GL names a working backend (see :func:`offscreen_backend`).
    A tracking camera follows the base, so a walking robot stays in view.
    """
    import mujoco
    from PIL import Image

    from .model import build_model
    from .mujoco_state import MujocoStateReader

    robot = robot or get_robot()
    model = build_model(robot)      # with the floor and light a robot file adds (the G1)
    data = mujoco.MjData(model)
    reader = MujocoStateReader(model, robot)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = model.body(robot.base_body).id
    camera.distance, camera.elevation, camera.azimuth = 4.0, -15.0, 135.0
    every = max(1, int(round(1.0 / (fps * dt))))
    frames = []
    with mujoco.Renderer(model, *size) as renderer:
        for state in states[::every]:
            data.qpos[:] = reader.qpos(state, model.qpos0)
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera)
            frames.append(Image.fromarray(np.asarray(renderer.render())))
    if not frames:
        raise ValueError('no states to render')
    tmp = f'{path}.tmp'
    frames[0].save(tmp, format='GIF', save_all=True, append_images=frames[1:],
                   duration=int(1000 * every * dt), loop=0)
    os.replace(tmp, path)
    return len(frames)
