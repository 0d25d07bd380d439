"""trainer_node: Symphony training inside ROS, with the parameters of ``symphony train``.

Parameters: every scalar field of TrainConfig (config, env, steps, seed, run_dir, ...), the
algorithm overrides of ``symphony train`` (hidden_dim, critic_heads, batch_size,
updates_per_step, lr, capacity, explore_steps; 0 = the named config's) and
TrainerNodeConfig (resume, tensorboard, policy_file, diagnostics_period, stages) and
DistributedConfig (collectors, ray_address, ...: collectors > 0 trains through Ray).

Publishes symphony/train/test_return (relative; std_msgs/Float64) after each evaluation and
/diagnostics. Services: ~/pause (std_srvs/SetBool), ~/save_checkpoint and ~/export_policy
(std_srvs/Trigger; the path in ``message``). Exports the ONNX policy at each new best test
return and at the end, then exits 0. At each stage's step (``stages``) it checkpoints and
resumes under the stage. SIGINT/SIGTERM: checkpoint, then exit 0. Bad parameters: one line on
stderr, exit 2.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Dict, List, Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

from ..core.checkpoint import CheckpointError
from ..core.config import TrainConfig
from ..core.stages import resuming
from ..core.trainer import Trainer
from ..distributed.config import DistributedConfig
from ..distributed.entry import make_trainer
from ..graph import topics
from ..train.controller import TrainingController
from ..train.params import (TrainerNodeConfig, override_fields, policy_path, ros_wording,
                            stages_param, train_config)
from .messages import declare_config
from .signals import SPIN_TIMEOUT, stop_on_signals

# Reliable and latched: a dashboard that joins late still gets the latest test returns.
TEST_RETURN_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)


class ParameterError(ValueError):
    """A parameter value the trainer cannot use; the message names it."""


class TrainerNode(Node):
    """ROS face of a TrainingController: parameters in; topics, services and logs out."""

    def __init__(self) -> None:
        super().__init__('trainer_node')
        try:
            self.node_cfg = declare_config(self, TrainerNodeConfig)
            declared = declare_config(self, TrainConfig)
            dist = declare_config(self, DistributedConfig)
            overrides = {}
            for name, typ, doc in override_fields():
                self.declare_parameter(name, typ(), ParameterDescriptor(description=doc))
                overrides[name] = typ(self.get_parameter(name).value)
            cfg = dataclasses.replace(train_config(declared, overrides),
                                      stages=stages_param(self.node_cfg.stages))
            if self.node_cfg.diagnostics_period <= 0:
                raise ValueError('diagnostics_period must be positive, got '
                                 f'{self.node_cfg.diagnostics_period}')

            def build(cfg: TrainConfig, resume: bool) -> Trainer:
                return make_trainer(cfg, dist, resume=resume, progress=False,
                                    tensorboard=self.node_cfg.tensorboard,
                                    log=self.get_logger().warning)
            if self.node_cfg.resume:
                cfg = resuming(cfg)
            trainer = build(cfg, self.node_cfg.resume)
        except (ValueError, CheckpointError, ParameterException) as exc:
            raise ParameterError(ros_wording(str(exc))) from None
        self.pub_return = self.create_publisher(Float64, topics.TRAIN_TEST_RETURN,
                                                TEST_RETURN_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        self.controller = TrainingController(
            trainer, policy_path(cfg.run_dir, self.node_cfg.policy_file),
            log=self.get_logger().info, on_evaluation=self._evaluated,
            restage=lambda cfg: build(cfg, True))
        self.create_service(SetBool, '~/pause', self._on_pause)
        self.create_service(Trigger, '~/save_checkpoint', self._on_save)
        self.create_service(Trigger, '~/export_policy', self._on_export)
        self.create_timer(self.node_cfg.diagnostics_period, self._diagnostics)
        sym = trainer.sym
        resumed = f', resumed at step {trainer.step_count}' if self.node_cfg.resume else ''
        self.get_logger().info(
            f'{sym.name} on {cfg.env}: {cfg.steps} steps, h={sym.hidden_dim}, '
            f'batch {sym.batch_size}, G={sym.updates_per_step}, device {trainer.device}, '
            f'run_dir {cfg.run_dir}{resumed}')

    # ---- topics ----------------------------------------------------------------------------
    def _evaluated(self, row: Dict[str, float]) -> None:
        # Called from the training thread; rclpy publishers may be used from any thread.
        self.pub_return.publish(Float64(data=float(row['test_return_mean'])))

    def _diagnostics(self) -> None:
        s = self.controller.status()
        status = DiagnosticStatus(name='symphony/trainer_node', hardware_id='trainer')
        ok = s['export_failures'] == 0 and self.controller.error is None
        status.level = DiagnosticStatus.OK if ok else DiagnosticStatus.WARN
        status.message = s['phase'] if ok else f'{s["phase"]}; see the log'
        status.values = [KeyValue(key=k, value=_text(v)) for k, v in s.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    # ---- services ----------------------------------------------------------------------------
    def _on_pause(self, req: SetBool.Request, resp: SetBool.Response) -> SetBool.Response:
        resp.message = self.controller.pause(bool(req.data))
        resp.success = True
        self.get_logger().info(resp.message)
        return resp

    def _on_save(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            resp.message, resp.success = self.controller.save_checkpoint(), True
            self.get_logger().info(f'checkpoint {resp.message}')
        except Exception as exc:  # noqa: BLE001 - answered, never fatal
            resp.success, resp.message = False, f'checkpoint failed: {exc}'
            self.get_logger().error(resp.message)
        return resp

    def _on_export(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            done = self.controller.export_policy()
            resp.success, resp.message = True, done.path
            self.get_logger().info(f'export: {done.description}')
        except Exception as exc:  # noqa: BLE001 - answered, never fatal
            resp.success, resp.message = False, f'export failed: {exc}'
            self.get_logger().error(resp.message)
        return resp


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return f'{value:.3f}' if math.isfinite(value) else str(value)
    return str(value)


def main(args: Optional[List[str]] = None) -> int:
    """Train until done (0), SIGINT/SIGTERM (checkpoint, 0), bad parameters (2), failure (1)."""
    # Own signal handling, as watchdog_node: rclpy's would shut the context down at once;
    # here the handler only sets a flag, so the checkpoint is written with ROS still up.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node: Optional[TrainerNode] = None
    stopping: List[int] = []
    code = 0
    try:
        try:
            node = TrainerNode()
        except ParameterError as exc:
            print(f'trainer_node: bad parameter: {exc}', file=sys.stderr)
            return 2
        # No stack dump on a slow stop: saving the checkpoint and replay may take seconds.
        wake = stop_on_signals(node, stopping.append, stuck_after=None)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        controller = node.controller
        # The guard condition wakes spin_once on the worker's end too.
        controller.on_end = wake
        controller.start()
        while not stopping and not controller.ended.is_set():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        code = _wind_down(node, bool(stopping))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # before the handlers were installed: nothing trained yet
    finally:
        if node is not None:
            node.controller.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code


def _wind_down(node: TrainerNode, interrupted: bool) -> int:
    """Stop the worker; after a signal, checkpoint. Return the exit code."""
    controller, log = node.controller, node.get_logger()
    if interrupted:
        log.info('stop requested: finishing the current step')
    controller.stop()
    if controller.error is not None:
        log.error(f'training failed: {controller.error!r}')
        return 1
    if interrupted and not controller.finished.is_set():
        try:
            log.info(f'checkpoint {controller.save_checkpoint()}')
        except Exception as exc:  # noqa: BLE001 - reported, then exit non-zero
            log.error(f'checkpoint on stop failed: {exc}')
            return 1
    if controller.finished.is_set():
        s = controller.status()
        if controller.final_export is None:
            log.error(f'done: {s["step"]} steps, but the final export failed')
            return 1
        log.info(f'done: {s["step"]} steps, best test return {s["best_test_return"]:.2f}, '
                 f'policy {controller.final_export.path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
