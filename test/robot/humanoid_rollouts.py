"""Seeded random rollouts of Gymnasium's own Humanoid-v4, shared by the robot tests."""

import functools
from typing import List, NamedTuple, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from symphony_ros.robot.mujoco_state import MujocoStateReader
from symphony_ros.robot.state import RobotState

SEEDS = (0, 1, 2, 3, 4, 5)
"""Random actions make the humanoid fall within ~25 steps: several episodes cover standing,
falling and ground impacts."""


class Step(NamedTuple):
    """One step of a rollout.

    Its index in the episode, Gymnasium's observation, the published state, and the
    simulator's (qpos, qvel, ctrl).
    """

    t: int
    obs: np.ndarray
    state: RobotState
    sim: Tuple[np.ndarray, np.ndarray, np.ndarray]


@functools.lru_cache(maxsize=None)
def vanilla_rollout(action_scale: float = 1.0, max_steps: int = 120,
                    terminate: bool = True) -> List[Step]:
    """Return the steps of Humanoid-v4 under uniform random actions.

    ``terminate=False`` lets the humanoid lie on the floor (many contacts).
    """
    env = gym.make('Humanoid-v4', terminate_when_unhealthy=terminate)
    reader = MujocoStateReader(env.unwrapped.model)
    data = env.unwrapped.data
    out = []
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for t in range(max_steps):
            out.append(Step(t, obs, reader.read(data),
                            (data.qpos.copy(), data.qvel.copy(), data.ctrl.copy())))
            obs, _, terminated, truncated, _ = env.step(
                rng.uniform(-action_scale, action_scale, env.action_space.shape))
            if terminated or truncated:
                break
    env.close()
    return out


def mujoco_at(sim: Tuple[np.ndarray, np.ndarray, np.ndarray], mjcf_path: str) -> np.ndarray:
    """Return Humanoid-v4's observation layout as MuJoCo evaluates it at exactly ``sim``.

    No warm start: this is the reference the builder must reproduce.
    """
    model = mujoco.MjModel.from_xml_path(mjcf_path)
    model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_WARMSTART
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:], data.ctrl[:] = sim
    # Right after reset Gymnasium's noise leaves the quaternion off unit length; the builder
    # normalizes it (MuJoCo's kinematics would use the normalized one anyway).
    quat = data.qpos[3:7].copy()
    mujoco.mju_normalize4(quat)
    data.qpos[3:7] = quat
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    return np.concatenate([data.qpos[2:], data.qvel, data.cinert.ravel(), data.cvel.ravel(),
                           data.qfrc_actuator, data.cfrc_ext.ravel()])
