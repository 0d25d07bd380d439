"""The stress conditions: one table, rendered by the README and read by ``symphony stress``.

Each condition perturbs the nominal robot through the training randomisation's knobs
(`symphony_ros.robot.ranges.KNOBS`) set to one value (or a range, for the push schedule),
so stress and training perturb the same way. ``delay_steps`` is in control steps of the
robot (converted to ``delay_s``). A condition is *within the training ranges* of a robot
when each of its values lies inside the range that robot's ``--randomize default`` draws
from; the default verdict judges those conditions only. The diagnostics (`DIAGNOSTIC`) run
only when named: one sensor's noise alone, delays in ms, the training mix, and a velocity
policy held to one command.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..robot.description import RobotDescription
from ..robot.ranges import (IMU_BIAS, KNOBS, OBS_NOISE, RandomizationSpec,
                            load_randomization, unset_range)
from ..robot.velocity_commands import COMMAND_RANGES

PUSH_INTERVAL = (5.0, 10.0)
"""s between pushes in the push conditions (the training default)."""

CONDITIONS: Dict[str, Tuple[Dict[str, Any], str]] = {
    'nominal': ({}, 'the robot as modelled'),
    'delay_1': ({'delay_steps': 1}, 'action delay of 1 control step'),
    'delay_2': ({'delay_steps': 2}, 'action delay of 2 control steps'),
    'mass_0.8': ({'mass_scale': 0.8}, 'every body mass x0.8'),
    'mass_1.2': ({'mass_scale': 1.2}, 'every body mass x1.2'),
    'payload_3kg': ({'payload_kg': 3.0}, '+3 kg on the base'),
    'friction_0.5': ({'friction_scale': 0.5}, 'floor friction x0.5'),
    'friction_1.5': ({'friction_scale': 1.5}, 'floor friction x1.5'),
    'strength_0.8': ({'strength_scale': 0.8}, 'motor strength x0.8'),
    'kp_0.8': ({'kp_scale': 0.8}, 'PD kp x0.8 (pd_position robots)'),
    'kp_1.2': ({'kp_scale': 1.2}, 'PD kp x1.2 (pd_position robots)'),
    'push_0.5': ({'push_velocity': 0.5, 'push_interval_s': PUSH_INTERVAL},
                 '0.5 m/s base kick every 5-10 s'),
    'push_1.0': ({'push_velocity': 1.0, 'push_interval_s': PUSH_INTERVAL},
                 '1.0 m/s base kick every 5-10 s'),
    'push_1.5': ({'push_velocity': 1.5, 'push_interval_s': PUSH_INTERVAL},
                 '1.5 m/s base kick every 5-10 s'),
    'obs_noise_1': ({'obs_noise_scale': 1.0, 'imu_bias_scale': 1.0},
                    'observation noise and IMU bias at the training amplitudes'),
    'obs_noise_2': ({'obs_noise_scale': 2.0, 'imu_bias_scale': 2.0},
                    'observation noise and IMU bias x2'),
    'worst': ({'delay_steps': 1, 'mass_scale': 1.1, 'payload_kg': 3.0, 'friction_scale': 0.5,
               'strength_scale': 0.9, 'kp_scale': 0.9, 'push_velocity': 1.0,
               'push_interval_s': PUSH_INTERVAL, 'obs_noise_scale': 1.0,
               'imu_bias_scale': 1.0},
              'all at once, each at the edge of the training range (floor friction '
              'x0.5, inside it)'),
}
"""Condition name -> (knob values, what it means)."""

LATENCY_MS = (5, 10, 15)
"""Delays of the latency conditions, ms: a robot's latency (DDS, driver, bus) is rarely a
whole control step (15 ms on Humanoid-v4, 20 ms on the G1)."""

WORST_PARTS: Dict[str, Tuple[str, ...]] = {
    'delay': ('delay_steps',), 'mass': ('mass_scale',), 'payload': ('payload_kg',),
    'friction': ('friction_scale',), 'strength': ('strength_scale',), 'kp': ('kp_scale',),
    'noise': ('obs_noise_scale', 'imu_bias_scale'),
    'push': ('push_velocity', 'push_interval_s')}
"""Part of ``worst`` -> its knobs. ``worst_without_<part>`` is ``worst`` with that part at
nominal: a policy that fails ``worst`` learns which part, left out, saves it most (no single
condition may fell it, only the sum)."""

WITHOUT = 'worst_without_'

WORST_DEPTHS = (0.2, 0.4, 0.6, 0.8)
"""Fractions of the way from the nominal robot to ``worst`` of the ``worst_at_<d>``
conditions: a policy that fails ``worst`` learns how far toward it it stands
(`worst_depth_budget`), a figure that moves as training does where ``worst``'s fall count
sits at 10 of 10."""

AT = 'worst_at_'


def _toward_worst(depth: float) -> Dict[str, Any]:
    """Return ``worst``'s knob values ``depth`` of the way from nominal (its kicks' interval kept).

    Nominal is the knob's `KNOBS` value (no delay: 0 steps); a delay between control steps is
    applied to the nearest physics step, as the training draws it.
    """
    out: Dict[str, Any] = {}
    for knob, value in CONDITIONS['worst'][0].items():
        if knob == 'push_interval_s':
            out[knob] = value
            continue
        nominal = 0.0 if knob == 'delay_steps' else KNOBS[knob][0]
        out[knob] = round(nominal + depth * (value - nominal), 6)
    return out


NOISE_ONLY = 'noise_only'
"""A condition's key that limits its observation noise and IMU bias to the terms named."""
MIX = 'training_mix'
"""A condition's key that draws every knob per episode from the robot's default ranges."""

KICK_SIDES = {'forward': 0.0, 'left': 90.0, 'backward': 180.0, 'right': -90.0}
"""Side a ``kick_<side>`` condition pushes the robot toward -> bearing, deg from its heading."""
KICK_FIRST_S = (3.0, 3.8)
"""s into the episode of a ``kick_<side>`` condition's one kick: after the start has settled,
at a phase spread over one G1 gait cycle (0.8 s), so ten episodes meet ten phases."""
ONE_KICK = (60.0, 60.0)
"""The interval after that kick: past the episode's end, so each episode is kicked once."""

COMMAND = 'command'
"""A condition's key that holds one velocity command (vx m/s, vy m/s, yaw rate rad/s) for
whole episodes, instead of drawing commands from the policy's ranges."""
HELD_COMMANDS = {'stand': ((0.0, 0.0, 0.0), 'stand still'),
                 'forward_0.5': ((0.5, 0.0, 0.0), 'walk forward at 0.5 m/s'),
                 'turn_0.5': ((0.0, 0.0, 0.5), 'turn in place at 0.5 rad/s (left)'),
                 'turn_-0.5': ((0.0, 0.0, -0.5), 'turn in place at 0.5 rad/s the other way '
                                                 '(right)')}
"""Name -> (command, what it asks): what a velocity policy must do on command before
hardware (the G1 policy's target). Both ways of turning: a policy that spins one way
whatever it is told meets one of them."""

DIAGNOSTIC: Dict[str, Tuple[Dict[str, Any], str]] = {
    **{f'noise_{term}': ({'obs_noise_scale': 1.0, NOISE_ONLY: (term,)},
                         f'noise on `{term}` alone, at the training amplitude')
       for term in OBS_NOISE},
    'imu_bias_1': ({'imu_bias_scale': 1.0, NOISE_ONLY: tuple(IMU_BIAS)},
                   'IMU bias alone, at the training amplitudes'),
    **{f'latency_{ms}ms': ({'delay_s': ms / 1000.0},
                           f'action delay of {ms} ms (rounded to the physics step)')
       for ms in LATENCY_MS},
    MIX: ({MIX: True}, 'every knob drawn per episode from the training ranges, as in '
                       'training (the report says which draws fell it)'),
    **{f'command_{what}': ({COMMAND: cmd}, f'the nominal robot told to {text} for whole '
                           'episodes (velocity policies)')
       for what, (cmd, text) in HELD_COMMANDS.items()},
    **{f'{WITHOUT}{part}': ({k: v for k, v in CONDITIONS['worst'][0].items() if k not in keys},
                            f'`worst` without its {part}')
       for part, keys in WORST_PARTS.items()},
    **{f'{AT}{d:g}': (_toward_worst(d), f'every knob of `worst` {d:g} of the way from nominal '
                      'to it (kicks at the same interval)')
       for d in WORST_DEPTHS},
    **{f'kick_{side}': ({'push_velocity': 1.0, 'push_first_s': KICK_FIRST_S,
                         'push_interval_s': ONE_KICK, 'push_bearing_deg': bearing},
                        f'one 1.0 m/s base kick pushing the robot {side}, '
                        f'{KICK_FIRST_S[0]:g}-{KICK_FIRST_S[1]:g} s into the episode')
       for side, bearing in KICK_SIDES.items()},
}
"""Conditions run only when named: which part of ``obs_noise_1`` a policy cannot take,
delays in ms, finer than ``delay_1``, which give a latency budget (`latency_budget`), the
mix of every perturbation a policy trained under, as the world mixes them, and a velocity
policy held to one command (its stride error is whether it does what it is told), and one
kick from a known side (`command_stand+kick_left`: whether a standing robot steps aside;
random kicks come from every side, so a weak side shows only in part under ``push_1.0``)."""
CONDITIONS.update(DIAGNOSTIC)

JOIN = '+'
"""Joins conditions into one that applies them together, e.g. ``command_turn_0.5+obs_noise_1``
(a held command under sensor noise) or ``delay_1+push_1.0``."""
NOISE = ('obs_noise_scale', 'imu_bias_scale', NOISE_ONLY)
"""Knobs that together say which sensor noise a condition adds: joined conditions may not
both set it (whose amplitude, on which terms, would be a guess)."""
DELAY = ('delay_steps', 'delay_s')
"""Knobs that each set the action delay (in control steps, in s): one delay a condition."""


def knobs(name: str) -> Dict[str, Any]:
    """Return the knob values of condition ``name`` (a joined one's: its parts' together)."""
    if name in CONDITIONS:
        return CONDITIONS[name][0]
    out: Dict[str, Any] = {}
    for part in name.split(JOIN):
        out.update(CONDITIONS[part][0])
    return out


def describe(name: str) -> str:
    """Return what condition ``name`` does (a joined one's parts, together)."""
    if name in CONDITIONS:
        return CONDITIONS[name][1]
    return '; '.join(CONDITIONS[part][1] for part in name.split(JOIN))


def joined_error(name: str) -> Optional[str]:
    """Return why ``name`` is not a known or a valid joined condition (None: it is).

    A joined condition's parts are known, distinct, none the training mix (which draws every
    knob), and no two set one knob to different values or both add sensor noise.
    """
    if name in CONDITIONS:
        return None
    parts = name.split(JOIN)
    for part in parts:
        if part not in CONDITIONS:
            return f'unknown condition {part!r}; expected some of {", ".join(CONDITIONS)}'
    if len(parts) == 1:
        return None
    if len(set(parts)) < len(parts) or any(MIX in CONDITIONS[p][0] for p in parts):
        return (f'{name!r}: a joined condition names each part once, none of them '
                f'{MIX!r} (which draws every knob)')
    seen: Dict[str, Tuple[str, Any]] = {}
    for part in parts:
        values = dict(CONDITIONS[part][0])
        for what, group in (('sensor noise', NOISE), ('the action delay', DELAY)):
            given = tuple(values.pop(k, None) for k in group)
            if any(v is not None for v in given):
                values[what] = given
        for knob, value in values.items():
            other, was = seen.setdefault(knob, (part, value))
            if was != value:
                return f'{name!r}: {other!r} and {part!r} both set {knob}'
    return None


PD_ONLY = ('kp_0.8', 'kp_1.2', f'{WITHOUT}kp')
"""Conditions that only mean something on a pd_position robot."""


def applicable(robot: RobotDescription) -> List[str]:
    """Return the conditions that apply to ``robot``, in table order (diagnostics too)."""
    pd = robot.action_kind == 'pd_position'
    # A held command needs a task with commands, which a robot file names (G1: velocity).
    return [n for n in CONDITIONS if (pd or n not in PD_ONLY)
            and (robot.tasks or COMMAND not in CONDITIONS[n][0])]


def select(names: Sequence[str], robot: RobotDescription,
           obs_terms: Optional[Sequence[str]] = None, commands: bool = True) -> List[str]:
    """Return ``names`` checked (all applicable ones but the diagnostics when empty).

    :param obs_terms: the policy's observation terms; a noise diagnostic must name one.
    :param commands: whether the policy follows velocity commands (a held command needs it).
    :raises ValueError: an unknown name (listing the known ones), a PD-only one on a
        torque robot, a noise diagnostic on a term the observation lacks, or a held command
        for a policy without commands.
    """
    if not names:
        return [n for n in applicable(robot) if n not in DIAGNOSTIC]
    for n in names:
        wrong = joined_error(n)
        if wrong:
            raise ValueError(f'--conditions: {wrong}')
        if COMMAND in knobs(n) and not (commands and robot.tasks):
            raise ValueError(f'--conditions: {n!r} holds a velocity command; this policy '
                             'follows none (it was trained on a task without commands)')
        if any(part not in applicable(robot) for part in n.split(JOIN)):
            raise ValueError(f'--conditions: {n!r} needs a pd_position robot; {robot.name!r} '
                             f'has action kind {robot.action_kind!r}')
        only = knobs(n).get(NOISE_ONLY, ())
        if obs_terms is not None and only and not set(only) & set(obs_terms):
            noisy = [t for t in obs_terms if f'noise_{t}' in DIAGNOSTIC]
            raise ValueError(f'--conditions: {n!r}: the policy\'s observation has no '
                             f'{" or ".join(map(repr, only))} term; its noisy terms: '
                             f'{", ".join(f"noise_{t}" for t in noisy) or "none"}')
    return list(dict.fromkeys(names))


def first_kick_s(name: str) -> float:
    """Return the earliest time (s) push condition ``name`` kicks.

    One interval in where the condition leaves ``push_first_s`` at nominal (as the sim
    node's kicks through ROS come), else the earliest first kick it sets.
    """
    values = knobs(name)
    first = values.get('push_first_s')
    return first[0] if first else values['push_interval_s'][0]


def held_command(name: str) -> Optional[Dict[str, Any]]:
    """Return the command settings that hold condition ``name``'s command (None: drawn).

    Each range is the one value and no share stands or turns in place, so every command
    the task draws, at reset and each resample, is that one.
    """
    cmd = knobs(name).get(COMMAND)
    if cmd is None:
        return None
    return {**{k: (float(v), float(v)) for k, v in zip(COMMAND_RANGES, cmd)},
            'standing_fraction': 0.0, 'turning_fraction': 0.0}


def too_short_for_pushes(names: Sequence[str], episode_s: Optional[float]) -> List[str]:
    """Return the push conditions among ``names`` that episodes of ``episode_s`` s end unpushed.

    Such a condition would report the nominal robot under a push's name. None: the
    episodes' own length, always long enough.
    """
    if episode_s is None:
        return []
    return [n for n in names if knobs(n).get('push_velocity')
            and episode_s <= first_kick_s(n)]


def _ranges(values: Mapping[str, Any], robot: RobotDescription) -> Dict[str, Tuple[float, float]]:
    if values.get(MIX):
        defaults = load_randomization('default', robot)
        return {k: defaults.range(k) for k in defaults.ranges}
    out = {}
    for knob, v in values.items():
        if knob in (NOISE_ONLY, COMMAND):
            continue
        if knob == 'delay_steps':
            knob, v = 'delay_s', v * robot.control_dt
        lo, hi = (v, v) if isinstance(v, (int, float)) else v
        out[knob] = (float(lo), float(hi))
    return out


def spec_of(name: str, robot: RobotDescription) -> RandomizationSpec:
    """Return the randomisation spec of condition ``name`` on ``robot`` (nothing else moves)."""
    defaults = load_randomization('default', robot)
    values = knobs(name)
    only = values.get(NOISE_ONLY)
    noise, bias = defaults.obs_noise, defaults.imu_bias
    if only is not None:
        noise = {t: a for t, a in noise.items() if t in only}
        bias = {t: b for t, b in bias.items() if t in only}
    return RandomizationSpec(_ranges(values, robot), noise, bias, 1.0, name)


def within_training(name: str, robot: RobotDescription) -> bool:
    """Return True when every value of condition ``name`` lies in ``robot``'s default ranges."""
    return _inside(name, robot, load_randomization('default', robot).range)


def within_policy_ranges(name: str, robot: RobotDescription,
                         form: Optional[Mapping[str, Any]]) -> Optional[bool]:
    """Return whether condition ``name`` lies in the ranges a policy trained under, if known.

    ``form`` is the contract's ``randomization`` (`RandomizationSpec.to_dict`; ``{}`` for a
    policy trained without randomisation, None when its file does not say). The verdict
    judges the robot's default ranges whatever a policy trained under; this says which
    conditions a policy met in training at all.
    """
    if form is None:
        return None
    ranges = form.get('ranges') or {}

    def range_of(knob: str) -> Tuple[float, float]:
        lo, hi = ranges.get(knob, unset_range(knob))
        return float(lo), float(hi)
    return _inside(name, robot, range_of)


def _inside(name: str, robot: RobotDescription,
            range_of: Callable[[str], Tuple[float, float]]) -> bool:
    eps = 1e-9
    for knob, (lo, hi) in _ranges(knobs(name), robot).items():
        if knob == 'push_interval_s':
            continue
        tlo, thi = range_of(knob)
        if lo < tlo - eps or hi > thi + eps:
            return False
    return True


def kick_side_conditions(commands: bool) -> List[str]:
    """Return what ``--kick-sides`` runs: a kick from each side, told to stand and to walk.

    :param commands: whether the policy follows velocity commands; without, the kicks alone.
    """
    kicks = [f'kick_{side}' for side in KICK_SIDES]
    if not commands:
        return kicks
    return [f'command_{what}{JOIN}{kick}' for what in ('stand', 'forward_0.5') for kick in kicks]


def kick_side_of(name: str) -> Optional[Tuple[Optional[str], str]]:
    """Return (held command or None, side) of a one-kick condition (None: another kind).

    A one-kick condition is ``kick_<side>`` alone or joined with one held command.
    """
    kicks = {f'kick_{side}': side for side in KICK_SIDES}
    helds = {f'{COMMAND}_{what}': what for what in HELD_COMMANDS}
    parts = name.split(JOIN)
    sides = [kicks[p] for p in parts if p in kicks]
    held = [helds[p] for p in parts if p in helds]
    if len(sides) != 1 or len(held) > 1 or len(parts) != 1 + len(held):
        return None
    return (held[0] if held else None), sides[0]


def worst_parts() -> List[str]:
    """Return what ``--worst-parts`` runs: ``worst``, then it without each of its parts."""
    return ['worst'] + [f'{WITHOUT}{part}' for part in WORST_PARTS]


def worst_depth_conditions() -> List[str]:
    """Return what ``--worst-depth`` runs: nominal, the way toward ``worst``, and ``worst``."""
    return ['nominal'] + [f'{AT}{d:g}' for d in WORST_DEPTHS] + ['worst']


def worst_depth(name: str) -> Optional[float]:
    """Return how far toward ``worst`` condition ``name`` is (None: not on that way)."""
    if name == 'nominal':
        return 0.0
    if name == 'worst':
        return 1.0
    if name.startswith(AT) and name in CONDITIONS:
        return float(name[len(AT):])
    return None


def worst_depth_budget(fall_rates: Mapping[str, float],
                       max_fall_rate: float) -> Optional[Dict[str, Any]]:
    """Return how far toward ``worst`` a policy stands, from the conditions on that way run.

    The budget is the deepest fraction run at which, and at every shallower one, the fall
    rate is at most ``max_fall_rate`` (as `latency_budget` reads delays). None when no
    ``worst_at_<d>`` ran; ``budget`` None when the shallowest run already fails.
    """
    depths = {worst_depth(n): rate for n, rate in fall_rates.items()
              if worst_depth(n) is not None}
    if not any(0.0 < d < 1.0 for d in depths):
        return None
    points = sorted(depths.items())
    return {'depths': [d for d, _ in points], 'fall_rates': [r for _, r in points],
            'budget': _budget(points, max_fall_rate), 'max_fall_rate': max_fall_rate}


def _budget(points: Sequence[Tuple[float, float]], max_fall_rate: float) -> Optional[float]:
    """Return the largest x of (x, fall rate) points, ascending, before a rate above the most."""
    budget = None
    for x, rate in points:
        if rate > max_fall_rate:
            break
        budget = x
    return budget


def latency_conditions() -> List[str]:
    """Return what ``--latency`` runs: 0 ms (nominal), the latency conditions, one step."""
    return ['nominal'] + [f'latency_{ms}ms' for ms in LATENCY_MS] + ['delay_1']


def delay_ms(name: str, robot: RobotDescription) -> Optional[float]:
    """Return condition ``name``'s action delay in ms when delay is all it moves (nominal: 0).

    None for a condition that moves anything else: its falls are not the delay's alone.
    """
    values = knobs(name)
    ranges = _ranges(values, robot)
    if set(ranges) - {'delay_s'} or values.get(NOISE_ONLY) or COMMAND in values:
        return None
    lo, hi = ranges.get('delay_s', (0.0, 0.0))
    return round(hi * 1000.0, 3) if lo == hi else None


def latency_budget(fall_rates: Mapping[str, float], robot: RobotDescription,
                   max_fall_rate: float) -> Optional[Dict[str, Any]]:
    """Return the largest action delay a policy takes, from the delay-only conditions run.

    The budget is the longest delay run at which, and at every shorter delay run, the fall
    rate is at most ``max_fall_rate``: a delay that fells the policy caps it even when a
    longer one happened not to. Of two conditions with one delay, the worse counts. None
    when no delay beyond 0 ms ran; ``budget_ms`` None when the shortest delay run already
    fails.

    :param fall_rates: condition name -> fall rate, of the conditions run.
    """
    worst: Dict[float, float] = {}
    for n, rate in fall_rates.items():
        d = delay_ms(n, robot)
        if d is not None:   # two conditions of one delay (delay_1 is 15 ms on Humanoid-v4)
            worst[d] = max(rate, worst.get(d, 0.0))
    delays = sorted(worst.items())
    if not any(d > 0 for d, _ in delays):
        return None
    return {'delays_ms': [d for d, _ in delays], 'fall_rates': [r for _, r in delays],
            'budget_ms': _budget(delays, max_fall_rate), 'max_fall_rate': max_fall_rate}


def table_markdown(robots: Sequence[RobotDescription]) -> str:
    """Return the condition table as Markdown (the README's copy is kept equal by a test)."""
    marks = ' | '.join(f'in {r.name}\'s training ranges' for r in robots)
    head = f'| condition | what | {marks} |'
    rows = [head, '|' + '---|' * (2 + len(robots))]
    for name, (_, text) in CONDITIONS.items():
        text += ' (run when named)' if name in DIAGNOSTIC else ''
        marks = ['-' if name not in applicable(r) else
                 ('yes' if within_training(name, r) else 'no') for r in robots]
        rows.append(f'| `{name}` | {text} | ' + ' | '.join(marks) + ' |')
    return '\n'.join(rows) + '\n'
