"""Bags written without the project's writer: rosbags directly, from an in-process sim run.

The run mirrors the lockstep deploy: per tick the sim publishes odom, IMU and joint_states
with one stamp, the policy answers with /symphony/command (same stamp), the watchdog passes
it on as the hardware command, the sim steps with it and publishes its reward, and at the
end of an episode its return, the terminal state, and after a reset the new state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot.description import get_robot
from symphony_ros.robot.reward import HumanoidReward
from symphony_ros.robot.rotations import wxyz_to_xyzw
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.episodes import EpisodeTracker
from symphony_ros.sim.robot_sim import RobotSim

TS = get_typestore(Stores.ROS2_JAZZY)
T = TS.types
TOPICS = {'/joint_states': 'sensor_msgs/msg/JointState', '/imu/data': 'sensor_msgs/msg/Imu',
          '/odom': 'nav_msgs/msg/Odometry',
          '/effort_controller/commands': 'std_msgs/msg/Float64MultiArray',
          '/symphony/command': 'sensor_msgs/msg/JointState',
          '/symphony/watchdog/state': 'std_msgs/msg/String',
          '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
          '/symphony/sim/reward': 'std_msgs/msg/Float64',
          '/symphony/sim/episode_return': 'std_msgs/msg/Float64'}
T0 = 1_700_000_000_000_000_000
"""Receive times start here (ns)."""


@dataclass
class SimRun:
    """What the sim itself measured: the truth the evaluation must reproduce."""

    returns: List[float] = field(default_factory=list)
    lengths: List[int] = field(default_factory=list)
    falls: List[bool] = field(default_factory=list)
    rewards: List[float] = field(default_factory=list)
    commands: int = 0
    path: str = ''


def _header(stamp_ns: int, frame: str = ''):
    return T['std_msgs/msg/Header'](
        stamp=T['builtin_interfaces/msg/Time'](sec=stamp_ns // 10**9,
                                               nanosec=stamp_ns % 10**9), frame_id=frame)


def _vec(v):
    return T['geometry_msgs/msg/Vector3'](x=float(v[0]), y=float(v[1]), z=float(v[2]))


def _quat(q_wxyz):
    x, y, z, w = wxyz_to_xyzw(np.asarray(q_wxyz, dtype=np.float64))
    return T['geometry_msgs/msg/Quaternion'](x=float(x), y=float(y), z=float(z), w=float(w))


def state_messages(state, names: Sequence[str], stamp_ns: int) -> Dict[str, object]:
    """odom, imu and joint_states of one state, as the sim node publishes them."""
    cov36, cov9 = np.zeros(36), np.zeros(9)
    p = state.base_position
    odom = T['nav_msgs/msg/Odometry'](
        header=_header(stamp_ns, 'odom'), child_frame_id='base_link',
        pose=T['geometry_msgs/msg/PoseWithCovariance'](
            pose=T['geometry_msgs/msg/Pose'](
                position=T['geometry_msgs/msg/Point'](x=float(p[0]), y=float(p[1]),
                                                      z=float(p[2])),
                orientation=_quat(state.base_orientation)), covariance=cov36),
        twist=T['geometry_msgs/msg/TwistWithCovariance'](
            twist=T['geometry_msgs/msg/Twist'](linear=_vec(state.base_lin_vel),
                                               angular=_vec(state.base_ang_vel)),
            covariance=cov36))
    imu = T['sensor_msgs/msg/Imu'](
        header=_header(stamp_ns, 'base_link'), orientation=_quat(state.imu_orientation),
        orientation_covariance=cov9, angular_velocity=_vec(state.imu_angular_velocity),
        angular_velocity_covariance=cov9, linear_acceleration=_vec([0.0, 0.0, 9.81]),
        linear_acceleration_covariance=cov9)
    js = T['sensor_msgs/msg/JointState'](
        header=_header(stamp_ns), name=list(names),
        position=np.array(state.joint_positions), velocity=np.array(state.joint_velocities),
        effort=np.array(state.joint_efforts))
    return {'/odom': odom, '/imu/data': imu, '/joint_states': js}


def write_sim_bag(path: str, policy: str, ticks: int = 300, storage: str = 'sqlite3',
                  terminal_state: bool = True, drop: Sequence[str] = (),
                  faults: Sequence[int] = (), episode_steps: int = 1000,
                  seed: int = 0, info: Optional[Dict[str, str]] = None,
                  hold: int = 0) -> SimRun:
    """Run the sim and ``policy`` in-process for ``ticks`` steps; record it to ``path``.

    :param terminal_state: publish the state that ended an episode before the reset (else
        the reset state follows the last pre-terminal one, and the last step is lost).
    :param drop: topics left out of the bag.
    :param faults: ticks at which the watchdog reports a tilt FAULT (ACTIVE again after).
    :param hold: states published unchanged (fresh stamps, no step) at the start and after
        each reset, as the sim holds the robot until the watchdog is ACTIVE.
    """
    robot = get_robot('humanoid')
    sim = RobotSim(SimConfig(seed=seed, episode_steps=episode_steps))
    loop = PolicyLoop(policy, robot)
    tracker = EpisodeTracker(HumanoidReward(robot), episode_steps)
    state = sim.state()
    tracker.start(state)
    run = SimRun(path=path)
    plugin = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}[storage]
    dt_ns = int(round(robot.control_dt * 1e9))
    stamp, log = 10**9, T0
    with Writer(path, version=9, storage_plugin=plugin) as w:
        for k, v in (info or {}).items():
            w.set_custom_data(f'symphony_ros.{k}', v)
        conns = {t: w.add_connection(t, m, typestore=TS) for t, m in TOPICS.items()
                 if t not in drop}

        def put(topic, msg, at):
            if topic in conns:
                w.write(conns[topic], at, TS.serialize_cdr(msg, TOPICS[topic]))

        put('/symphony/watchdog/state', T['std_msgs/msg/String'](data='ACTIVE'), log)
        active = True

        def tick_state(st, st_stamp, at):
            for i, (topic, msg) in enumerate(state_messages(st, robot.joint_names,
                                                            st_stamp).items()):
                put(topic, msg, at + i * 1000)
            torque, _ = loop.torque(st)
            cmd = T['sensor_msgs/msg/JointState'](header=_header(st_stamp),
                                                  name=list(robot.joint_names),
                                                  position=np.zeros(0), velocity=np.zeros(0),
                                                  effort=np.array(torque))
            put('/symphony/command', cmd, at + 300_000)
            run.commands += 1
            hw = T['std_msgs/msg/Float64MultiArray'](
                layout=T['std_msgs/msg/MultiArrayLayout'](dim=[], data_offset=0),
                data=np.array(torque))
            put('/effort_controller/commands', hw, at + 500_000)
            return torque

        def hold_still(st):
            nonlocal stamp, log
            for _ in range(hold):
                tick_state(st, stamp, log)
                stamp += dt_ns
                log += 10_000_000

        hold_still(state)
        for tick in range(ticks):
            if tick in faults:
                put('/symphony/watchdog/state', T['std_msgs/msg/String'](
                    data='FAULT tilt: base tilt 0.81 rad beyond max_tilt 0.8'), log + 100)
                active = False
            elif not active:
                put('/symphony/watchdog/state', T['std_msgs/msg/String'](data='ACTIVE'),
                    log + 100)
                active = True
            torque = tick_state(state, stamp, log)
            state = sim.step(torque)
            r, done = tracker.step(state, torque)
            run.rewards.append(r.total)
            put('/symphony/sim/reward', T['std_msgs/msg/Float64'](data=r.total), log + 600_000)
            stamp += dt_ns
            log += 10_000_000
            if done is not None:
                run.returns.append(done.ret)
                run.lengths.append(done.length)
                run.falls.append(done.fallen)
                put('/symphony/sim/episode_return', T['std_msgs/msg/Float64'](data=done.ret),
                    log - 9_000_000)
                if terminal_state:
                    tick_state(state, stamp, log)
                    stamp += dt_ns
                    log += 10_000_000
                state = sim.reset()
                tracker.start(state)
                hold_still(state)
            if tick % 50 == 0:
                diag = T['diagnostic_msgs/msg/DiagnosticArray'](
                    header=_header(stamp), status=[T['diagnostic_msgs/msg/DiagnosticStatus'](
                        level=0, name='symphony/policy_node', message='running',
                        hardware_id='policy', values=[
                            T['diagnostic_msgs/msg/KeyValue'](key='inference_p50_us',
                                                              value='55.0')])])
                put('/diagnostics', diag, log + 700_000)
    assert os.path.isdir(path)
    return run
