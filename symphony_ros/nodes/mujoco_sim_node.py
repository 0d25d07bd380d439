"""mujoco_sim_node: the embedded stand-in for the robot's hardware and state estimator.

Publishes joint_states, imu/data and odom as a ros2_control robot would, applies the torques
of effort_controller/commands, and applies zero torque when commands stop (never a stale one).
It also scores the run with the robot's training reward (`sim.episodes.task_reward`):
symphony/sim/reward per step and symphony/sim/episode_return per finished episode (fall or
time limit), logged as well. A velocity-task robot (the G1) is scored by the task's own
terms against the velocity command on cmd_vel (clipped and timed out as policy_node takes
it) and the policy's action on symphony/command; its episode lines add the RMS tracking
errors. With ``cmd_vel`` set the sim publishes that command itself, as a teleop would, or
draws one as training does (``cmd_vel random``).
Topic names are relative (graph/topics); stepping, scoring, episodes and stamps live in
:class:`symphony_ros.sim.session.SimSession`, the hold-until-ACTIVE and re-arm rules in
:class:`symphony_ros.sim.gantry.Gantry`. ``command_delay`` holds each command that long
before the motors get it (:class:`symphony_ros.sim.delay.DelayLine`); ``push_velocity``
kicks the base (:class:`symphony_ros.sim.pushes.Pushes`). In lockstep it steps once the
command answering the state has come through the watchdog, and once a state estimator on
the graph (state_estimator/odom) has estimated that state.

A pd_position robot (the G1) takes either its checked targets and gains (``command_input``
'position', position_controller/commands and symphony/watchdog/pd_gains: MuJoCo's servos
run the PD at each physics step on that step's state, as a driver would; the deploy
graph's choice) or the watchdog's torques (``command_input`` 'effort': it then steps and
publishes its state at the physics rate, and each step applies a torque the watchdog's PD
computed from an older state); see :mod:`symphony_ros.sim.robot_sim`.
"""

from __future__ import annotations

import threading
import time
from typing import List, Optional, Tuple

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64, Float64MultiArray, String
from std_srvs.srv import Trigger

from ..graph import topics
from ..sim.config import SimConfig
from ..sim.episodes import EpisodeResult, episode_line, run_summary
from ..sim.gantry import Gantry, REARM_PERIOD, SETTLE_OUTPUTS
from ..sim.lockstep import LockstepGate, passed_through, passed_through_target
from ..sim.session import SimSession
from ..util.stop_flag import StopFlag
from .messages import (COMMAND_QOS, LATCHED_QOS, STATE_QOS, declare_config,
                       imu_msg, joint_state_msg, odometry_msg, to_time)
from .signals import keep_signals

FINISH_WAIT = 1.0
"""s a finished run waits for the watchdog's disarm, and for each publisher's last
reliable messages to be acknowledged."""


class MujocoSimNode(Node):
    """Steps a SimSession in real time (steady-clock timer) or in lockstep with the command."""

    def __init__(self, stop: Optional[StopFlag] = None) -> None:
        super().__init__('mujoco_sim_node')
        self._stop = stop if stop is not None else StopFlag()
        """Set by SIGINT/SIGTERM: every loop of this node ends on it (see running())."""
        self.cfg = declare_config(self, SimConfig)
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.session = SimSession(self.cfg, self._now,
                                  self.resolve_topic_name(topics.CMD_VEL))
        self.sim = self.session.sim
        names = self.sim.robot.joint_names
        self._names = names
        self._lock = threading.Lock()
        """Guards the session: messages arrive on the executor's thread, steps on another."""
        self.pub_js = self.create_publisher(JointState, topics.JOINT_STATES, STATE_QOS)
        self.pub_imu = self.create_publisher(Imu, topics.IMU, STATE_QOS)
        self.pub_odom = self.create_publisher(Odometry, topics.ODOM, STATE_QOS)
        self._position = self.session.position
        self._substeps = self.sim.robot.frame_skip if (
            self.sim.pd and not self._position and self.cfg.timing == 'realtime') else 1
        """Timer ticks per control period: a torque-driven PD robot steps per physics step."""
        self._substep = 0
        if self._position:
            hardware = [self.create_subscription(Float64MultiArray, topics.POSITION_COMMANDS,
                                                 self._on_command, COMMAND_QOS),
                        self.create_subscription(Float64MultiArray, topics.PD_GAINS,
                                                 self._on_gains, COMMAND_QOS)]
        else:
            hardware = [self.create_subscription(Float64MultiArray, topics.EFFORT_COMMANDS,
                                                 self._on_command, COMMAND_QOS)]
        self._commands_in = [s.topic_name for s in hardware] + [
            self.resolve_topic_name(topics.COMMAND)]
        """Command topics await_subscriber must hear once published (beside the sim's own)."""
        self.create_service(Trigger, '~/reset', self._on_reset)
        self._velocity = self.session.velocity
        self._own = self.session.own
        self._draws_said = 0
        """Drawn commands logged so far (the first goes out with the start-up line)."""
        self.pub_cmd_vel = (self.create_publisher(Twist, topics.CMD_VEL, 10)
                            if self._own is not None else None)
        if self._velocity:
            self.create_subscription(Twist, topics.CMD_VEL, self._on_cmd_vel, 10)
            if self.session.cmd_problem:
                self.get_logger().warning(f'cmd_vel parameter: {self.session.cmd_problem}')
        self.done = threading.Event()
        self.pub_reward = self.create_publisher(Float64, topics.SIM_REWARD, 100)
        self.pub_return = self.create_publisher(Float64, topics.SIM_EPISODE_RETURN, 10)
        self.lockstep = self.cfg.timing == 'lockstep'
        self.gate = LockstepGate(targets=self._position)
        self.gantry = Gantry(self._now, rearm=bool(self.cfg.watchdog))
        self._heard = self._said_waiting = False
        """The awaited subscriber (await_subscriber) was seen; its wait was logged."""
        self._rearm_call = None
        self.create_subscription(String, topics.WATCHDOG_STATE, self._on_watchdog,
                                 LATCHED_QOS)
        if self.cfg.watchdog:
            # Relative: the watchdog of this graph's namespace.
            self._wd_reset = self.create_client(Trigger, f'{self.cfg.watchdog}/reset')
            self._wd_disarm = self.create_client(Trigger, f'{self.cfg.watchdog}/disarm')
            self.create_timer(REARM_PERIOD, self._rearm, clock=self._steady)
        self._policy_reset = (self.create_client(Trigger, f'{self.cfg.policy}/reset')
                              if self.cfg.policy else None)
        self._policy_call = None
        """The policy's ~/reset asked at the last reset of the robot, until lockstep waits."""
        if self.lockstep or self._velocity:
            self._policy_sub = self.create_subscription(
                JointState, topics.COMMAND, self._on_policy_command, COMMAND_QOS)
        if self.lockstep:
            self.pub_clock = self.create_publisher(ClockMsg, topics.CLOCK, 10)
            self._estimate_sub = self.create_subscription(
                Odometry, topics.STATE_ESTIMATOR_ODOM, self._on_estimate, STATE_QOS)
            self._estimated: Optional[Tuple[int, int]] = None
            """Stamp of the newest estimate heard (None: none yet)."""
        else:
            self.create_timer(self.sim.robot.control_dt / self._substeps, self._tick,
                              clock=self._steady)
        self.get_logger().info(self.session.describe(self._substeps))
        self._say_new_command()

    def running(self) -> bool:
        """Tell whether the node should go on: no stop signal, and the context is up."""
        return not self._stop.is_set() and rclpy.ok()

    @property
    def episodes(self) -> List[EpisodeResult]:
        """Episodes finished so far."""
        return self.session.episodes

    @property
    def ticks(self) -> int:
        """Control steps taken so far."""
        return self.session.ticks

    def _now(self) -> float:
        return self._steady.now().nanoseconds * 1e-9

    def _on_command(self, msg: Float64MultiArray) -> None:
        torque = np.asarray(msg.data, dtype=np.float64)
        if torque.shape != (len(self._names),):
            self.get_logger().warning(
                f'effort_controller/commands: expected {len(self._names)} torques, got '
                f'{torque.size}; applying zero torque', throttle_duration_sec=1.0)
            torque = None
        with self._lock:
            self.session.take_command(torque)
            self.gate.hardware(torque)

    def _on_gains(self, msg: Float64MultiArray) -> None:
        gains = np.asarray(msg.data, dtype=np.float64)
        if gains.shape != (2 * len(self._names),):
            self.get_logger().warning(
                f'pd_gains: expected kp and kd for {len(self._names)} joints, got '
                f'{gains.size} values; applying zero gains', throttle_duration_sec=1.0)
            gains = None
        with self._lock:
            self.session.gains = gains

    def _on_policy_command(self, msg: JointState) -> None:
        # In the sim's joint order (the deploy graph's policy sends that order).
        ordered = tuple(msg.name) == tuple(self._names)
        values = msg.position if self._position else msg.effort
        expected = None
        if ordered and len(values) == len(self._names):
            expected = (passed_through_target(values) if self._position
                        else passed_through(values, self.sim.robot.effort_limits))
        with self._lock:
            if self._velocity:
                # The policy's joint targets give back its action, which the score's action
                # rate needs.
                target = np.asarray(msg.position, dtype=np.float64)
                self.session.take_policy_targets(
                    target if ordered and target.shape == (len(self._names),) else None)
            if self.lockstep:
                self.gate.policy((msg.header.stamp.sec, msg.header.stamp.nanosec), expected)

    def _on_estimate(self, msg: Odometry) -> None:
        with self._lock:
            self._estimated = (msg.header.stamp.sec, msg.header.stamp.nanosec)

    def _on_cmd_vel(self, msg: Twist) -> None:
        if self._own is not None:
            return      # scored against its own command (an echo of it, or another sender)
        with self._lock:
            problem = self.session.cmd_vel.update(msg.linear.x, msg.linear.y, msg.angular.z)
        if problem:
            self.get_logger().warning(f'scoring: {problem}', throttle_duration_sec=1.0)

    def _on_watchdog(self, msg: String) -> None:
        self.gantry.on_state(msg.data)

    def _rearm(self) -> None:
        poll = self.gantry.poll(self._held())
        if poll.info:
            self.get_logger().info(poll.info)
        if poll.warning:
            self.get_logger().warning(poll.warning)
        if poll.request_reset and self._wd_reset.service_is_ready() and (
                self._rearm_call is None or self._rearm_call.done()):
            self._rearm_call = self._wd_reset.call_async(Trigger.Request())

    def _on_reset(self, _req, resp):
        with self._lock:
            self.session.reset_robot()
            self._restart_policy()
        resp.success, resp.message = True, f'reset #{self.sim.resets}'
        return resp

    def _current_torque(self) -> Optional[np.ndarray]:
        with self._lock:
            return self.session.current_command()

    def publish_state(self):
        """Publish odom, IMU and then joint_states (the policy acts on joint_states).

        Return the stamp used.
        """
        state = self.sim.state()
        sim_stamp = to_time(self.session.stamp())
        if self.lockstep:
            self.pub_clock.publish(ClockMsg(clock=sim_stamp))
            stamp = sim_stamp
        else:
            stamp = self.get_clock().now().to_msg()
        if self.pub_cmd_vel is not None:
            vx, vy, wz = (float(v) for v in self._own.value)
            twist = Twist()
            twist.linear.x, twist.linear.y, twist.angular.z = vx, vy, wz
            self.pub_cmd_vel.publish(twist)
        self.pub_odom.publish(odometry_msg(state, stamp))
        self.pub_imu.publish(imu_msg(state, stamp))
        self.pub_js.publish(joint_state_msg(state, self._names, stamp))
        return stamp

    def _advance(self, torque: Optional[np.ndarray], nstep: Optional[int] = None
                 ) -> Optional[EpisodeResult]:
        """Step once and score it (lock held); return the episode the step ended, if any."""
        reward, finished = self.session.advance(torque, nstep)
        self.pub_reward.publish(Float64(data=reward))
        self._say_new_command()
        return finished

    def _say_new_command(self) -> None:
        # A drawn command changes every resample_steps and each episode: say each one, so a
        # run's log shows what the robot was asked when it fell.
        own = self._own
        if own is not None and not own.fixed and own.draws != self._draws_said:
            self._draws_said = own.draws
            vx, vy, wz = own.value
            self.get_logger().info(f'cmd_vel drawn: {vx:.2f} m/s, {vy:.2f} m/s, {wz:.2f} rad/s')

    def _conclude(self, finished: Optional[EpisodeResult]) -> None:
        """End the episode a step ended (its last state already sent), stop at the budget.

        Lock held. The state that ended an episode goes out before the reset, so a recording
        holds every step the return counts.
        """
        time_now = self.sim.time
        end = self.session.conclude(finished)
        if end.ended is not None:
            self.pub_return.publish(Float64(data=end.ended.ret))
            self.get_logger().info(episode_line(end.ended))
        if end.fall_reset:
            self.get_logger().info(f'fall at t={time_now:.2f} s: reset')
        self._say_new_command()     # the next episode's
        if end.reset:
            self.gantry.robot_reset()
            self._restart_policy()
        if end.done:
            self.done.set()

    def _restart_policy(self) -> None:
        # The episode starts from the policy's fresh memory, as a training episode does.
        # Realtime does not wait for the answer: the robot's hold until ACTIVE covers it.
        client = self._policy_reset
        if client is not None and client.service_is_ready():
            self._policy_call = client.call_async(Trigger.Request())

    def _held(self) -> bool:
        # On the gantry: no step of this episode taken yet, and waiting for ACTIVE is asked.
        return self.session.held()

    def _tick(self) -> None:
        if self.done.is_set():
            # The run is over: the state stands still but keeps flowing until the node
            # exits, so the watchdog sees no stale state before finish() disarms it.
            self.publish_state()
            return
        if self._held() and not self._may_start():
            # On the gantry (see _hold_until_active): the state stays frozen but keeps
            # flowing with fresh stamps, which is what lets the watchdog arm.
            self.publish_state()
            return
        torque = self._current_torque()
        # With substeps, one physics step per tick; the episode and its score advance once
        # per control period (substep 0).
        self._substep = (self._substep + 1) % self._substeps
        with self._lock:
            if self._substep:
                self.session.substep(torque)
            else:
                finished = self._advance(torque, nstep=1 if self._substeps > 1 else None)
                if finished is not None:
                    self.publish_state()
                self._conclude(finished)
        self.publish_state()

    def _may_start(self) -> bool:
        # An episode leaves the gantry once the watchdog is armed and the awaited node
        # (the recorder) hears the sim: then a bag holds the run from its first step.
        return self.gantry.armed() and self._subscriber_present()

    def _subscriber_present(self) -> bool:
        name = self.cfg.await_subscriber
        if not name or self._heard:
            return True
        # A command topic nobody publishes yet is no recorder's to hear; the sim's own are.
        wanted = [self.pub_js.topic_name, self.pub_reward.topic_name] + [
            t for t in self._commands_in if self.count_publishers(t) > 0]
        missing = [t for t in wanted if not any(
            i.node_name == name for i in self.get_subscriptions_info_by_topic(t))]
        self._heard = not missing
        if missing and not self._said_waiting:
            self._said_waiting = True
            self.get_logger().info(f'holding the robot until {name} subscribes to '
                                   f'{", ".join(missing)}')
        return self._heard

    def _hold_until_active(self) -> None:
        # A robot on its gantry: the state is frozen (sim time stands still) while the
        # watchdog arms and ramps; then SETTLE_OUTPUTS outputs must pass (see sim.gantry).
        while self.running() and not self._may_start():
            self.publish_state()
            time.sleep(self.sim.robot.control_dt)
        with self._lock:
            start = self.gate.outputs
        self._wait(lambda: self.gate.outputs >= start + SETTLE_OUTPUTS,
                   self._now() + self.cfg.lockstep_timeout)

    def _wait(self, ready, deadline: float) -> bool:
        # Ready is asked once more at the deadline: a wait that starts past it still sees
        # an answer already there.
        while self.running():
            with self._lock:
                if ready():
                    return True
            if self._now() >= deadline:
                return False
            time.sleep(0.0002)
        return False

    def lockstep_tick(self) -> None:
        """Publish state, wait for the hardware command answering it, then step."""
        ok, key = self._publish_and_wait(self.gate.ready)
        with self._lock:
            if not ok:
                self.get_logger().warning(
                    f'lockstep: no command answered the state stamped {key} within '
                    f'{self.cfg.lockstep_timeout} s ({self.gate.describe()}); stepping with '
                    'zero torque')
            finished = self._advance(self.gate.torque if ok else None)
        if finished is not None:
            # The policy answers the last state too, whatever the timing: its memory
            # (previous action, gait clock) then enters the next episode the same way in
            # every run, not only when that state was not overtaken by the reset one.
            ok, key = self._publish_and_wait(lambda key, present, _: self.gate.answered(key)
                                             or not present)
            if not ok:
                self.get_logger().warning(
                    f'lockstep: no command answered the last state of the episode (stamped '
                    f'{key}) within {self.cfg.lockstep_timeout} s; resetting')
        with self._lock:
            self._conclude(finished)

    def _await_policy_reset(self) -> None:
        """Wait (lockstep_timeout at most) for the policy's answer to a reset asked of it."""
        with self._lock:
            call, self._policy_call = self._policy_call, None
        if call is not None and not self._wait(call.done,
                                               self._now() + self.cfg.lockstep_timeout):
            self.get_logger().warning(
                f'lockstep: {self._policy_reset.srv_name} did not answer within '
                f'{self.cfg.lockstep_timeout} s; the episode starts from the policy\'s '
                'memory as it is')

    def _publish_and_wait(self, answered) -> Tuple[bool, Tuple[int, int]]:
        """Publish the state, wait until ``answered(key, policy_present, active)``.

        Return whether it did within lockstep_timeout, and the state's stamp key. A state
        estimator on the graph is waited for as well, once it has estimated a state: lockstep
        runs ahead of real time, and an estimator that fell behind it by more than its
        inputs' depth would lose states (the policy, when it reads no odometry, does not
        wait for the estimate).
        """
        with self._lock:
            self.gate.state_published()
            estimating = self._estimated is not None
        estimating = estimating and self.count_publishers(self._estimate_sub.topic_name) > 0
        stamp = self.publish_state()
        key = (stamp.sec, stamp.nanosec)
        deadline = self._now() + self.cfg.lockstep_timeout
        # The resolved name: a remapping or a namespace moves the policy's topic.
        policy_present = self.count_publishers(self._policy_sub.topic_name) > 0
        ok = self._wait(lambda: answered(key, policy_present, self.gantry.active()), deadline)
        if estimating and not self._wait(lambda: self._estimated >= key, deadline):
            self.get_logger().warning(
                f'lockstep: no estimate of the state stamped {key} on '
                f'{self._estimate_sub.topic_name} within {self.cfg.lockstep_timeout} s; '
                'stepping on', throttle_duration_sec=1.0)
        return ok, key

    def lockstep_loop(self) -> None:
        """Run lockstep ticks until shutdown or the tick/episode budget is spent."""
        while self.running() and not self.done.is_set():
            # Before the new episode's first state goes out, on the gantry or not.
            self._await_policy_reset()
            if self._held():
                self._hold_until_active()
            self.lockstep_tick()

    def finish(self) -> None:
        """End a run that spent its tick or episode budget: a planned stop, not a fault.

        The watchdog is disarmed while the (frozen) state still flows, so the states that
        stop when this node exits do not read as a stale-state FAULT; the closing line gives
        the unfinished episode's return; the last reliable messages are acknowledged (a
        recorder gets every step the return counts).
        """
        # Commands apply through the delay line in realtime only (lockstep steps on each).
        delays = '' if self.lockstep else '; ' + self.session.commands.describe()
        pushes = self.session.pushes
        kicks = '' if pushes is None else '; ' + pushes.describe()
        self.get_logger().info(run_summary(self.ticks, self.episodes, self.session.tracker,
                                           self.gate.timed, self.gate.altered) + delays + kicks)
        with self._lock:
            self.publish_state()    # the state after the last step (lockstep sends it next)
        if self.cfg.watchdog and self._wd_disarm.service_is_ready():
            call = self._wd_disarm.call_async(Trigger.Request())
            deadline = self._now() + FINISH_WAIT
            while self.running() and not call.done() and self._now() < deadline:
                with self._lock:
                    self.publish_state()
                time.sleep(self.sim.robot.control_dt)
            if call.done() and call.result() is not None:
                self.get_logger().info(f'run finished; the watchdog answered ~/disarm: '
                                       f'{call.result().message}')
            else:
                self.get_logger().warning(
                    f'run finished: the watchdog did not answer ~/disarm in {FINISH_WAIT:g} s')
        for pub in (self.pub_reward, self.pub_return, self.pub_odom, self.pub_imu,
                    self.pub_js):
            pub.wait_for_all_acked(Duration(seconds=FINISH_WAIT))


def _spin(executor: SingleThreadedExecutor, node: MujocoSimNode,
          stop: threading.Event) -> None:
    # One executor thread beside the lockstep loop in the main thread: a MultiThreadedExecutor
    # can lose wake-ups, leaving watchdog outputs unread until a lockstep tick times out.
    # It only spins: the teardown (executor, node, context) runs on the main thread once this
    # thread has ended, so no rclpy object is destroyed while another thread may use it.
    try:
        while not stop.is_set() and node.running():
            executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        pass
    except Exception:   # rclpy's RCLError is not public
        if rclpy.ok():
            raise
        # The context was shut down between the check and the wait: we are done.


def main(args=None) -> None:
    """Run the node until SIGINT, SIGTERM or shutdown."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signalled = StopFlag()
    keep_signals(lambda _: signalled.set())
    node = MujocoSimNode(signalled)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()
    spin = threading.Thread(target=_spin, args=(executor, node, stop), daemon=True)
    spin.start()
    try:
        if node.lockstep:
            node.lockstep_loop()
        while node.running() and spin.is_alive() and not node.done.wait(0.1):
            pass
        if node.done.is_set() and not signalled.is_set():
            node.finish()
    finally:
        stop.set()
        spin.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
