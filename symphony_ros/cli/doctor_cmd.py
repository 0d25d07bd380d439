"""``symphony doctor``: check this machine before the first deploy, and say what to fix.

Each check runs the real thing (a DDS round trip, loading the policy against the robot
description, an offscreen render, a SCHED_FIFO switch) rather than looking for files.
Exit code 1 when a check FAILs (the product cannot run), 0 otherwise (WARN: a feature is
missing, e.g. no offscreen rendering for the demo's GIF, or a policy bound for
``--target real`` without a passing stress report).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, TYPE_CHECKING

from ..core.config import odometry_of
from ..graph.deploy import ROBOTS

if TYPE_CHECKING:
    from ..deploy.policy_loop import PolicyLoop
    from ..policy.contract import PolicyContract

OK, WARN, FAIL = 'OK', 'WARN', 'FAIL'
SHM_MIN_MB = 64
"""Free /dev/shm below which Fast DDS's shared-memory transport may fail to open segments."""


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    level: str
    detail: str
    hint: str = ''


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the policy to check and the robot it should drive."""
    p.add_argument('--policy', default=None, help='ONNX policy to check (default: the one shipped '
                   'for --robot)')
    p.add_argument('--robot', default=None, help='robot description it must match (default: '
                   'the one the policy\'s contract names; without --policy, humanoid)')
    p.add_argument('--target', default='real', choices=ROBOTS,
                   help="where it will be deployed, as the deploy graph's robot:= (default: "
                   'real: warn when the policy carries no passing stress report)')


def check_rclpy() -> Check:
    """Report where rclpy comes from, and which middleware it will use."""
    try:
        import rclpy
    except ImportError as exc:
        return Check('rclpy', FAIL, f'not importable: {exc}', 'source a ROS 2 distro, or '
                     "pip install -e '.[pip-ros]' (make venv does)")
    where = 'ROS 2 distro' if '/opt/ros/' in rclpy.__file__ else 'pip wheels'
    rmw = os.environ.get('RMW_IMPLEMENTATION', 'default (Fast DDS)')
    return Check('rclpy', OK, f'{where} ({os.path.dirname(rclpy.__file__)}), rmw {rmw}')


def check_dds_isolation() -> Check:
    """Report the domain and discovery range this shell's nodes will use."""
    domain = os.environ.get('ROS_DOMAIN_ID', '0 (unset)')
    scope = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET (unset)')
    if scope.startswith('SUBNET'):
        return Check('DDS scope', WARN, f'domain {domain}, discovery {scope}',
                     'on a shared network set ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (sim) '
                     'or a ROS_DOMAIN_ID of your own (robot)')
    return Check('DDS scope', OK, f'domain {domain}, discovery {scope}')


def check_dds_round_trip(timeout: float = 10.0) -> Check:
    """Publish and receive one message through the middleware, timed."""
    try:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String
    except ImportError:
        return Check('DDS round trip', FAIL, 'skipped: rclpy not importable')
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('symphony_doctor', context=context)
        got: List[float] = []
        topic = f'symphony_doctor_{os.getpid()}'
        node.create_subscription(String, topic, lambda m: got.append(time.monotonic()), 10)
        pub = node.create_publisher(String, topic, 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + timeout
        while not got and time.monotonic() < deadline:
            sent = time.monotonic()
            pub.publish(String(data='ping'))
            executor.spin_once(timeout_sec=0.1)
        if not got:
            return Check('DDS round trip', FAIL, f'no message came back within {timeout:g} s',
                         'check the RMW install and /dev/shm; try '
                         'ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST')
        return Check('DDS round trip', OK, f'one message in {(got[0] - sent) * 1e3:.1f} ms')
    finally:
        rclpy.try_shutdown(context=context)


def _policy_loop(path: Optional[str], robot: str) -> Tuple[str, 'PolicyLoop']:
    """Return the policy's path and its loop, loaded as policy_node loads it.

    A doctor run shares one load between its checks (`checks`); a cache across runs would
    report a file replaced at the same path as it was.

    :raises DeployError, PolicyError, ValueError, KeyError, OSError: as `PolicyLoop` does.
    """
    from ..deploy.policy_loop import PolicyLoop
    from ..paths import policy_for
    from ..robot.description import get_robot
    path = policy_for(path, robot)
    return path, PolicyLoop(path, get_robot(robot))


def _load_errors() -> Tuple[type, ...]:
    from ..deploy.policy_loop import DeployError
    from ..policy.errors import PolicyError
    return DeployError, PolicyError, ValueError, KeyError, OSError


Loader = Callable[[Optional[str], str], Tuple[str, 'PolicyLoop']]
"""Loads a policy for a check (`_policy_loop`, or a run's one shared load)."""


def check_policy(path: Optional[str], robot: str, load: Loader = _policy_loop) -> Check:
    """Load the policy the way policy_node does: contract against the robot description."""
    try:
        path, loop = load(path, robot)
    except _load_errors() as exc:
        return Check('policy', FAIL, str(exc), 'symphony export RUN_DIR -o FILE.onnx')
    c = loop.policy.contract
    o = c.observation
    size = f'{o.history} x {o.frame_dim}' if o.history > 1 else f'{o.dim}'
    return Check('policy', OK, f'{path}: {o.name} ({size}) -> {c.act_dim} joints of {robot}, '
                 f'{c.training_steps:,} steps, {_provenance(c)}')


INPUT_TOPICS = (('joint_states', 'joint_states_topic'), ('imu', 'imu_topic'),
                ('odom', 'odom_topic'), ('command', 'cmd_vel_topic'))
"""What a policy may need (the spec's inputs) -> the topic table's entry that carries it."""


def check_inputs(path: Optional[str], robot: str, target: str,
                 load: Loader = _policy_loop) -> Check:
    """Say which topics the policy reads; warn when a real robot must run an estimator for it.

    A policy that needs odometry waits for it; the sim publishes it, but a humanoid's drivers
    give joints and an IMU only, so on ``robot:=real`` a state estimator must publish it.
    """
    from ..graph.topics import TOPICS
    try:
        _, loop = load(path, robot)
    except _load_errors() as exc:
        return Check('inputs', WARN, f'skipped: {str(exc).splitlines()[0]}')
    table = {t.arg: t for t in TOPICS}
    read = [table[key] for need, key in INPUT_TOPICS if need in loop.needs]
    detail = 'reads ' + ', '.join(f'{t.default} ({t.type})' for t in read)
    if 'odom' in loop.needs and target == 'real':
        contract = loop.policy.contract
        spec = contract.observation.name
        legs = (f'deploy with estimator:=legs (leg odometry from the joints and the IMU, for '
                f'{loop.robot.name}\'s feet), ' if loop.robot.feet else '')
        if odometry_of(contract.train_config) == 'legs':
            return Check('inputs', WARN, f'{detail}: the policy ({spec}) trained on leg '
                         'odometry (symphony train --odometry legs), which a robot\'s drivers '
                         'do not publish', 'deploy with estimator:=legs: the estimate it '
                         'trained on, from the joints and the IMU')
        return Check('inputs', WARN, f'{detail}: the policy ({spec}) needs odometry, which a '
                     'robot\'s drivers do not publish; the policy node waits for it',
                     f'{legs}run a state estimator publishing nav_msgs/Odometry on '
                     f'{table["odom_topic"].default} (base pose and twist, base frame), or '
                     'deploy a policy that needs joint_states and imu only')
    return Check('inputs', OK, f'{detail} (robot:={target})')


def _provenance(contract: PolicyContract) -> str:
    """Say where the weights came from: the test return of RL, or the teacher of a student.

    A distilled student has no test return of its own; "test return None" would read as a
    broken file.
    """
    distilled = contract.train_config.get('distill')
    if distilled:
        return f'distilled from {os.path.basename(str(distilled.get("teacher")))}'
    if contract.test_return is None:
        return 'no test return recorded'
    return f'test return {contract.test_return:.1f}'


def check_stress(path: Optional[str], robot: str, target: str) -> Check:
    """Say whether the policy's contract carries a passing stress report, for ``target``."""
    from ..paths import policy_for
    from ..policy.errors import PolicyError
    from ..policy.onnx_file import load_contract
    from ..stress.gate import deploy_warning
    try:
        path = policy_for(path, robot)
        stress = load_contract(path).stress
    except (PolicyError, ValueError, KeyError, OSError) as exc:
        return Check('stress gate', WARN, f'skipped: {str(exc).splitlines()[0]}')
    warning = deploy_warning(path, stress, target)
    if warning:
        return Check('stress gate', WARN, warning.problem, warning.fix)
    if not stress:
        return Check('stress gate', OK, f'no stress report; not needed for robot:={target}')
    return Check('stress gate', OK, f'verdict {stress["verdict"]} (robot:={target})')


def check_compute() -> Check:
    """Report the torch and onnxruntime builds: CUDA for training, CPU for inference."""
    import onnxruntime
    import torch
    cuda = (f'CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s)'
            if torch.cuda.is_available() else 'CPU only')
    detail = (f'torch {torch.__version__} ({cuda}); onnxruntime {onnxruntime.__version__} '
              f'({", ".join(onnxruntime.get_available_providers())})')
    if not torch.cuda.is_available():
        return Check('compute', WARN, detail, 'training a humanoid on CPU takes hours; see '
                     'README "torch and CUDA" for a CUDA build')
    return Check('compute', OK, detail)


def check_rendering() -> Check:
    """Try MuJoCo offscreen rendering (the demo's GIF)."""
    import mujoco

    from ..robot.render import offscreen_backend
    gl = offscreen_backend()
    if gl is None:
        return Check('rendering', WARN, f'mujoco {mujoco.__version__}: no EGL or OSMesa',
                     'apt-get install libegl1 (or libosmesa6); the demo skips its GIF')
    return Check('rendering', OK, f'mujoco {mujoco.__version__}, MUJOCO_GL={gl}')


def check_realtime() -> Check:
    """Try whether realtime_priority:= can put a thread on SCHED_FIFO here."""
    from ..nodes.realtime import set_thread_priority
    result: List[Optional[str]] = []

    def probe() -> None:
        # A throwaway thread, so this process's own scheduling never changes.
        result.append(set_thread_priority(threading.get_native_id(), 1))
    t = threading.Thread(target=probe)
    t.start()
    t.join()
    if result[0]:
        return Check('SCHED_FIFO', WARN, result[0], 'grant rtprio (limits.conf) or '
                     'CAP_SYS_NICE to use realtime_priority:=')
    return Check('SCHED_FIFO', OK, 'allowed (deploy realtime_priority:=N will apply)')


def check_shm() -> Check:
    """Report free shared memory for Fast DDS's transport."""
    if not os.path.isdir('/dev/shm'):
        return Check('/dev/shm', WARN, 'absent', 'Fast DDS falls back to UDP')
    free = shutil.disk_usage('/dev/shm').free / 2**20
    level = OK if free >= SHM_MIN_MB else WARN
    return Check('/dev/shm', level, f'{free:.0f} MiB free',
                 '' if level == OK else 'docker: --shm-size=256m')


def _policy_robot(path: Optional[str]) -> Optional[str]:
    """Return the robot a policy file's contract names, if it is one this install describes.

    The robot of the env it trained on (a shipped name, or the robot file of a user's robot
    or variant, as ``symphony stress`` takes it), else the contract's robot name. A G1
    policy checked against the default robot would fail on its control period alone; an
    unreadable file is the policy check's to report, against the default robot.
    """
    from ..core.envs import canonical_env_id, lookup
    from ..policy.errors import PolicyError
    from ..policy.onnx_file import load_contract
    from ..robot.description import get_robot
    if not path:
        return None
    try:
        contract = load_contract(path)
        if contract.robot is None:
            return None
        entry = lookup(canonical_env_id(contract.env))
        robot = entry.robot if entry is not None else contract.robot.name
        get_robot(robot)     # one this install describes, or None below
        return robot
    except (PolicyError, ValueError, OSError):
        return None


def checks(args: argparse.Namespace) -> List[Callable[[], Check]]:
    """Return the checks, in report order."""
    load = functools.lru_cache(maxsize=1)(_policy_loop)    # one load for this run's checks
    return [check_rclpy, check_dds_isolation, check_dds_round_trip,
            lambda: check_policy(args.policy, args.robot, load),
            lambda: check_inputs(args.policy, args.robot, args.target, load),
            lambda: check_stress(args.policy, args.robot, args.target), check_compute,
            check_realtime, check_shm, check_rendering]


def run(args: argparse.Namespace) -> int:
    """Run every check, print one line each (and a hint under a WARN or FAIL).

    An unknown ``--robot`` is bad input (exit 2) before any check: no check could say
    anything useful about a robot this install does not describe.
    """
    from ..robot.description import get_robot
    from .errors import CliError
    if args.robot:
        try:
            get_robot(args.robot)
        except ValueError as exc:
            raise CliError(f'--robot {args.robot}: {exc}') from None
    args.robot = args.robot or _policy_robot(args.policy) or get_robot().name
    worst = OK
    for check in checks(args):
        c = check()
        print(f'{c.level:<4}  {c.name:<15} {c.detail}', flush=True)
        if c.hint and c.level != OK:
            print(f'{"":<21}-> {c.hint}', flush=True)
        worst = FAIL if FAIL in (worst, c.level) else worst
    return 1 if worst == FAIL else 0
