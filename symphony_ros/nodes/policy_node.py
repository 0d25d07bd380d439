"""policy_node: runs an exported policy on the robot's state and publishes its commands.

Refuses to start unless the policy's contract matches the robot: joint names (checked again
against the first joint_states), control period and model hash. Publishes the command on
symphony/command (sensor_msgs/JointState), which only the watchdog consumes: effort = N*m
for a torque robot, position = joint targets (rad) for a pd_position robot. A
velocity-tracking policy takes its command from cmd_vel (geometry_msgs/Twist), clipped to
the ranges it was trained on and zero when it stops (:class:`VelocityCommand`).
Topic names are relative (graph/topics), so a namespace or a remapping moves them; the state
assembly and when to act on it live in :class:`symphony_ros.deploy.state_inputs.StateInputs`.
With ``deploy_target`` real it warns once at start-up when the contract carries no passing
stress report (:mod:`symphony_ros.stress.gate`).
"""

from __future__ import annotations

import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from ..deploy.config import PolicyNodeConfig
from ..deploy.policy_loop import DeployError, PolicyLoop
from ..deploy.state_estimator import odometry_mismatch
from ..deploy.state_inputs import OncePerState, StateInputs
from ..deploy.stats import Percentiles, SteadyPercentiles
from ..deploy.velocity_command import VelocityCommand
from ..graph import topics
from ..policy.errors import PolicyError
from ..robot.description import get_robot
from ..stress.gate import deploy_warning, latency_warning
from .messages import COMMAND_PUB_QOS, LATCHED_QOS, STATE_LATEST_QOS, declare_config
from .signals import run_node

LATENCY_WARMUP_S = 1.0
"""s of ticks the latency check leaves out: the loop's start."""
LATENCY_SPAN_S = 5.0
"""s of ticks after the warm-up before the latency check judges the loop."""
WAIT_WARN = 5.0
"""s without any message on a needed input before policy_node says so (and again as often)."""


class PolicyNode(Node):
    """Control loop around a PolicyLoop: on a steady-clock timer, or on each state."""

    def __init__(self) -> None:
        super().__init__('policy_node')
        self.cfg = declare_config(self, PolicyNodeConfig)
        self.policy_path = self.cfg.resolved_policy_path()
        """The policy file loaded (policy_path, or the one shipped for the robot)."""
        self.loop = PolicyLoop(self.policy_path, get_robot(self.cfg.robot))
        self.dt = self.loop.robot.control_dt
        self._on_state = self.cfg.lockstep or self.cfg.act_on_state
        """Act when a state arrives, not on a timer."""
        self.inputs = StateInputs(self.loop.robot, self.loop.needs, self._on_state)
        self._once = OncePerState()
        self._state_time = -float('inf')
        self._checked = False
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.compute, self.state_age = Percentiles(), Percentiles()
        self.steady_age = SteadyPercentiles(warmup=round(LATENCY_WARMUP_S / self.dt),
                                            min_samples=round(LATENCY_SPAN_S / self.dt))
        """state_age of the running loop, which the latency budget is compared with."""
        self.overruns, self.stale, self.ticks = 0, 0, 0
        self._latency_told = False
        group = MutuallyExclusiveCallbackGroup()
        self._topics = {}
        """Input -> resolved topic name."""
        for key, kind, topic, callback in (
                ('joint_states', JointState, topics.JOINT_STATES, self._on_joints),
                ('imu', Imu, topics.IMU, self._on_imu),
                ('odom', Odometry, topics.ODOM, self._on_odom)):
            sub = self.create_subscription(kind, topic, callback, STATE_LATEST_QOS,
                                           callback_group=group)
            self._topics[key] = sub.topic_name
        self.cmd_vel = None
        if self.loop.needs_command:
            sub = self.create_subscription(Twist, topics.CMD_VEL, self._on_cmd_vel,
                                           STATE_LATEST_QOS, callback_group=group)
            self.cmd_vel = VelocityCommand(self.loop.command_ranges, self.cfg.cmd_vel_timeout,
                                           self._now, sub.topic_name)
        self.create_service(Trigger, '~/reset', self._on_reset, callback_group=group)
        self._armed = False
        """The watchdog's last state passes commands on (RAMP or ACTIVE)."""
        if not self.cfg.lockstep:
            # Lockstep leaves it to the sim's ~/reset call, which the next state waits for.
            self.create_subscription(String, topics.WATCHDOG_STATE, self._on_watchdog,
                                     LATCHED_QOS, callback_group=group)
        self._started = self._now()
        self.pub = self.create_publisher(JointState, topics.COMMAND, COMMAND_PUB_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        if not self._on_state:
            self.create_timer(self.dt, self._tick, clock=self._steady, callback_group=group)
        self.create_timer(self.cfg.diagnostics_period, self._diagnostics, clock=self._steady,
                          callback_group=group)
        c = self.loop.policy.contract
        mode = ('lockstep' if self.cfg.lockstep else 'on each state' if self._on_state
                else 'timer')
        self.get_logger().info(f'policy {self.policy_path}: obs '
                               f'{c.observation.name} ({c.obs_dim}), {c.act_dim} joints '
                               f'({self.loop.output}), dt {self.dt:.4f} s, {mode}'
                               + (f', command from {self.cmd_vel.topic}' if self.cmd_vel
                                  else ''))
        # Once, at start-up: the last moment before hardware to say the policy is unchecked.
        gate = deploy_warning(self.policy_path, c.stress, self.cfg.deploy_target)
        if gate:
            self.get_logger().warning(str(gate))
        mismatch = odometry_mismatch(c.train_config, self._topics['odom']
                                     if 'odom' in self.loop.needs else None)
        if mismatch:
            self.get_logger().warning(mismatch)

    def _now(self) -> float:
        return self._steady.now().nanoseconds * 1e-9

    def _on_joints(self, msg: JointState) -> None:
        if not self._checked:
            self.loop.check_joint_names(msg.name)   # raises DeployError: node stops
            self._checked = True
        due = self.inputs.joint_states(msg)
        self._state_time = self._now()
        if due:
            self._tick()

    def _on_cmd_vel(self, msg: Twist) -> None:
        rejected = self.cmd_vel.rejected
        problem = self.cmd_vel.update(msg.linear.x, msg.linear.y, msg.angular.z)
        # Two call sites, two throttles: a steady stream of clipped commands must not hide
        # a rejected one.
        if self.cmd_vel.rejected != rejected:
            self.get_logger().error(problem, throttle_duration_sec=1.0)
        elif problem:
            self.get_logger().warning(problem, throttle_duration_sec=1.0)

    def _on_imu(self, msg: Imu) -> None:
        if self.inputs.imu(msg):
            self._tick()

    def _on_odom(self, msg: Odometry) -> None:
        if self.inputs.odom(msg):
            self._tick()

    def _on_reset(self, _req, resp):
        """Start afresh, as an episode in training does (the sim asks at each robot reset)."""
        self._restart()
        resp.success = True
        resp.message = 'policy memory cleared: no previous action, gait clock at 0, no history'
        return resp

    def _on_watchdog(self, msg: String) -> None:
        """Start afresh when the watchdog hands the robot over (RAMP or ACTIVE from another).

        While disarmed or faulted the policy's commands reach no joint, so what it remembers
        (previous action, gait clock, history) is of a robot it did not move; a training
        episode starts with none of it.
        """
        armed = msg.data.startswith(('RAMP', 'ACTIVE'))
        if armed and not self._armed:
            self._restart()
            self.get_logger().info(f'watchdog {msg.data.split(":")[0]}: policy memory cleared '
                                   '(no previous action, gait clock at 0)')
        self._armed = armed

    def _restart(self) -> None:
        self.loop.reset()
        self._once = OncePerState()      # a state sent again is not acted on from before

    def _tick(self) -> None:
        t0 = self._now()
        state = self.inputs.state()
        if state is None:
            return
        # Acting on a state that just arrived, it is never stale; in lockstep the sim waits
        # for this answer however long it takes (dropping it would step with zero torque).
        if not self._on_state and t0 - self._state_time > self.cfg.stale_after * self.dt:
            self.stale += 1
            return      # no command: the watchdog's staleness check takes over
        if self.cfg.lockstep:
            self.loop.memory = self._once.memory(self.inputs.stamp_ns, self.loop.memory)
        out, _ = self.loop.act(state, self.cmd_vel.value() if self.cmd_vel else None)
        msg = JointState()
        # Lockstep: the stamp of the state acted on (sim time); otherwise now.
        msg.header.stamp = (self.inputs.stamp if self.cfg.lockstep
                            else self.get_clock().now().to_msg())
        msg.name = list(self.loop.robot.joint_names)
        if self.loop.pd is None:
            msg.effort = out.tolist()
        else:
            msg.position = out.tolist()
        self.pub.publish(msg)
        done = self._now()
        # compute: tick start -> command out; state_age: state in -> command out.
        self.compute.add(done - t0)
        self.state_age.add(done - self._state_time)
        self.steady_age.add(done - self._state_time)
        self.ticks += 1
        if done - t0 > self.dt:
            self.overruns += 1

    def _tell_latency(self) -> None:
        """Warn once when the loop's measured latency exceeds the policy's latency budget.

        On the running loop's p99: its first second of ticks left out (:data:`LATENCY_WARMUP_S`)
        and judged once :data:`LATENCY_SPAN_S` of ticks after it are in, so that the start
        (the first inferences, discovery, arming) does not read as the loop's latency. Never in
        lockstep: the sim waits for each command, so no latency reaches its robot.
        """
        if self._latency_told or self.cfg.lockstep or not self.steady_age.ready:
            return
        warning = latency_warning(self.loop.policy.contract.stress,
                                  self.steady_age.summary()['p99'])
        if warning:
            self.get_logger().warning(warning)
            self._latency_told = True

    def _silent_inputs(self) -> list:
        return [self._topics[key] for key in self.inputs.missing()]

    def _diagnostics(self) -> None:
        inf, tick, age = (self.loop.inference.summary(), self.compute.summary(),
                          self.state_age.summary())
        status = DiagnosticStatus(name='symphony/policy_node', hardware_id='policy')
        ok = self.overruns == 0 and self.stale == 0
        status.level = DiagnosticStatus.OK if ok else DiagnosticStatus.WARN
        status.message = 'running' if ok else 'overruns or stale inputs'
        silent = self._silent_inputs()
        if silent:
            status.level = DiagnosticStatus.WARN
            status.message = f'waiting for {", ".join(silent)}'
            waited = self._now() - self._started
            if waited >= WAIT_WARN:
                # The first thing to check on a robot: the topics are named as we expect.
                self.get_logger().warning(
                    f'no message on {", ".join(silent)} after {waited:.0f} s: is the robot\'s '
                    'state published there? (deploy launch arguments joint_states_topic:=, '
                    'imu_topic:=, odom_topic:=)',
                    throttle_duration_sec=WAIT_WARN)
        elif self._on_state and self.ticks == 0 and self.inputs.received:
            status.level = DiagnosticStatus.WARN
            status.message = 'no state acted on: inputs never share a stamp'
            self.get_logger().warning(
                f'{self.inputs.received} joint_states received, none acted on: acting on each '
                f'state needs {", ".join(self.inputs.matched)} stamped like joint_states (one '
                'source, as the sim publishes them); for separate drivers set '
                'act_on_state:=false',
                throttle_duration_sec=WAIT_WARN)
        self._tell_latency()
        values = {'ticks': self.ticks, 'overruns': self.overruns, 'stale_inputs': self.stale,
                  'inference_p50_us': inf['p50'], 'inference_p99_us': inf['p99'],
                  'tick_p50_us': tick['p50'], 'tick_p99_us': tick['p99'],
                  'state_age_p50_us': age['p50'], 'state_age_p99_us': age['p99']}
        if self.cmd_vel is not None:
            cmd = self.cmd_vel.value()
            values.update({'cmd_vel': 'live' if self.cmd_vel.live() else 'none (zero)',
                           'command': ' '.join(f'{v:.2f}' for v in cmd),
                           'cmd_vel_clipped': self.cmd_vel.clipped,
                           'cmd_vel_rejected': self.cmd_vel.rejected})
        status.values = [KeyValue(key=k, value=f'{v:.1f}' if isinstance(v, float) else str(v))
                         for k, v in values.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)


def main(args=None) -> None:
    """Run the node; a contract mismatch is reported in one line and exits with code 2."""
    code = run_node('policy_node', PolicyNode, (DeployError, PolicyError, ValueError),
                    lambda node: node.cfg.realtime_priority, args)
    time.sleep(0)
    sys.exit(code)


if __name__ == '__main__':
    main()
