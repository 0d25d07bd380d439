"""The G1's URDF (robot_state_publisher): its joints, and meshes placed where MuJoCo has them."""

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import trimesh

from symphony_ros.robot import get_robot
from symphony_ros.robot.model import build_model
from symphony_ros.robot.urdf import generate_urdf


def _pose(origin):
    xyz = [float(v) for v in origin.get('xyz', '0 0 0').split()]
    r, p, y = (float(v) for v in origin.get('rpy', '0 0 0').split())
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    rot = np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                    [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                    [-sp, cp * sr, cp * cr]])
    return rot, np.array(xyz)


def test_g1_urdf_joints_and_mesh_placement():
    robot = get_robot('g1')
    root = ET.fromstring(generate_urdf('g1'))
    movable = [j.get('name') for j in root.iter('joint') if j.get('type') == 'revolute']
    assert sorted(movable) == sorted(robot.joint_names)
    model = build_model(robot)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    checked = 0
    for link in root.iter('link'):
        for visual in link.findall('visual'):
            mesh = visual.find('geometry/mesh')
            if mesh is None:
                continue
            name = visual.get('name')  # unnamed MuJoCo geoms are written geom<index>
            g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
            g = int(name[4:]) if g < 0 else g
            verts = trimesh.load(mesh.get('filename')[len('file://'):], force='mesh').vertices
            rot, pos = _pose(visual.find('origin'))
            in_geom_body = verts @ rot.T + pos  # URDF: the file's vertices in the link frame
            k = int(model.geom_dataid[g])
            adr, n = int(model.mesh_vertadr[k]), int(model.mesh_vertnum[k])
            mj = model.mesh_vert[adr:adr + n] @ mujoco_rot(model.geom_quat[g]).T
            mj += model.geom_pos[g]
            np.testing.assert_allclose(in_geom_body.min(axis=0), mj.min(axis=0), atol=1e-5)
            np.testing.assert_allclose(in_geom_body.max(axis=0), mj.max(axis=0), atol=1e-5)
            checked += 1
    assert checked == int(np.sum(model.geom_type == mujoco.mjtGeom.mjGEOM_MESH))


def mujoco_rot(quat):
    """Return the rotation matrix of a MuJoCo (w, x, y, z) quaternion."""
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, np.asarray(quat, dtype=np.float64))
    return out.reshape(3, 3)


def test_g1_urdf_kinematics_limits_and_ros2_control_agree_with_the_robot(tmp_path):
    """What robot_state_publisher and gz_ros2_control read: FK, limits, controllers, IMU."""
    import yaml
    import yourdfpy
    from urdf_checks import assert_fk_matches_mujoco

    from symphony_ros import paths
    from symphony_ros.graph.deploy import robot_description
    robot = get_robot('g1')
    text = generate_urdf('g1')
    path = tmp_path / 'g1.urdf'
    path.write_text(text)
    urdf = yourdfpy.URDF.load(str(path), load_meshes=False, build_collision_scene_graph=False)
    assert urdf.base_link == 'base_link'   # the odometry child frame and the IMU frame
    for i, name in enumerate(robot.joint_names):
        limit = urdf.joint_map[name].limit
        assert (limit.lower, limit.upper) == tuple(robot.position_limits[i])
        assert (limit.effort, limit.velocity) == (robot.effort_limits[i],
                                                  robot.velocity_limits[i])
    # Every MuJoCo body where TF will put it.
    assert_fk_matches_mujoco(urdf, build_model(robot), robot)
    # gz_ros2_control loads the G1's own controllers (not the humanoid's), whose joints and
    # IMU sensor the URDF declares; the deploy graph resolves the package path.
    root = ET.fromstring(robot_description('g1'))
    params = root.find("gazebo/plugin/parameters").text
    assert params == paths.config_path('controllers_g1_effort.yaml')
    with open(params) as f:
        controllers = yaml.safe_load(f)
    block = root.find('ros2_control')
    assert [j.get('name') for j in block.findall('joint')] == list(
        controllers['effort_controller']['ros__parameters']['joints'])
    imu = controllers['imu_sensor_broadcaster']['ros__parameters']
    assert block.find('sensor').get('name') == imu['sensor_name']
    assert imu['frame_id'] in {link.name for link in urdf.robot.links}
