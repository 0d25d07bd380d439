"""Checks shared by the URDF tests of every robot."""

import mujoco
import numpy as np


def assert_fk_matches_mujoco(urdf, model, robot, seed: int = 0, poses: int = 1) -> None:
    """Every MuJoCo body frame, at random joint angles, where the URDF puts it (base fixed)."""
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    for _ in range(poses):
        cfg = {n: rng.uniform(lo, hi) for n, (lo, hi) in zip(robot.joint_names,
                                                             robot.position_limits)}
        data.qpos[:7] = [0, 0, 0, 1, 0, 0, 0]
        for name, q in cfg.items():
            data.qpos[model.jnt_qposadr[model.joint(name).id]] = q
        mujoco.mj_kinematics(model, data)
        urdf.update_cfg(cfg)
        for b in range(1, model.nbody):
            t = urdf.get_transform(model.body(b).name, 'base_link')
            np.testing.assert_allclose(t[:3, 3], data.xpos[b], atol=1e-7)
            np.testing.assert_allclose(t[:3, :3], data.xmat[b].reshape(3, 3), atol=1e-7)
