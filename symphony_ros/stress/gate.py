"""The stress gate before hardware: what to say when a policy goes to a real robot unchecked.

``symphony doctor --policy`` and policy_node both call :func:`deploy_warning`, so the rule
(warn for ``robot:=real`` when the contract carries no stress summary or a failed one) and
its wording live here once. Simulated targets never warn: a fall there costs nothing, and
``symphony stress`` itself runs in simulation. :func:`latency_warning` compares the latency
budget a report measured with the loop's own latency, which policy_node measures running.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional

REAL = 'real'
"""The deploy graph's ``robot:=`` value for hardware (its other values are simulators)."""


@dataclass(frozen=True)
class GateWarning:
    """What is wrong with the policy for a real robot, and what to do about it."""

    problem: str
    fix: str

    def __str__(self) -> str:
        """Return the one-line warning the node logs."""
        return f'STRESS GATE: {self.problem}; {self.fix}'


def default_report_dir(policy_path: str, ros: bool = False) -> str:
    """Where ``symphony stress`` writes by default: ``<policy>_stress`` beside the policy.

    ``ros``: the ``--ros`` report, ``<policy>_stress_ros``, so it never replaces the other.
    """
    return os.path.splitext(policy_path)[0] + ('_stress_ros' if ros else '_stress')


def deploy_warning(policy_path: str, stress: Optional[Mapping[str, Any]],
                   target: str) -> Optional[GateWarning]:
    """Return the warning for deploying ``policy_path`` to ``target``, or None.

    :param stress: the contract's ``stress`` field (``symphony export --stress``), or None.
    :param target: the deploy graph's ``robot:=`` value (sim, real or gazebo).
    """
    if target != REAL:
        return None
    report = default_report_dir(policy_path)
    fix = (f'run `symphony stress {policy_path}` (writes {report}/), then '
           f'`symphony export {policy_path} --stress {report} --force` so its contract '
           'carries the verdict')
    if not stress:
        return GateWarning(f'policy {policy_path} goes to a real robot (robot:=real) '
                           'without a stress report in its contract', fix)
    if stress.get('verdict') == 'PASS':
        return None
    return GateWarning(f'policy {policy_path} goes to a real robot (robot:=real) with a '
                       f'FAILED stress verdict ({_failures(stress)})',
                       'retrain it (symphony train ... --randomize default) until '
                       '`symphony stress` passes, then export it with --stress REPORT')


def _failures(stress: Mapping[str, Any]) -> str:
    """Say which conditions failed and on what: falls, tracking or yaw rate."""
    off_track = list(stress.get('failed_tracking') or ())
    off_yaw = list(stress.get('failed_yaw') or ())
    falls = [n for n in stress.get('failed') or () if n not in off_track + off_yaw]
    rate = stress.get('max_fall_rate')
    limit = f'fall rate above {rate:.0%}' if isinstance(rate, (int, float)) else 'too many falls'
    parts = [f'{limit} in: {", ".join(falls)}'] if falls else []
    if off_track:
        parts.append(f'tracking error per stride above {stress.get("max_tracking_error"):g} '
                     f'm/s in: {", ".join(off_track)}')
    if off_yaw:
        parts.append(f'yaw-rate error per stride above {stress.get("max_yaw_error"):g} '
                     f'rad/s in: {", ".join(off_yaw)}')
    return '; '.join(parts) or f'{limit} in: unknown'


def latency_warning(stress: Optional[Mapping[str, Any]],
                    state_age_p99_us: Optional[float]) -> Optional[str]:
    """Return a warning when the loop's own latency already exceeds the policy's budget.

    ``state_age``, state in -> command out, is the one part of the loop the policy node can
    measure; DDS, the driver and the bus add to it on a robot, so a p99 beyond the latency
    budget that ``symphony stress`` measured (the longest action delay the policy took in
    simulation) is worth saying before anything else. Silent when either is unknown.
    """
    budget = (stress or {}).get('latency_budget_ms')
    if state_age_p99_us is None or math.isnan(state_age_p99_us) or budget is None:
        return None     # no budget measured, or none at all: the verdict's warning speaks
    age_ms = state_age_p99_us / 1000.0
    if age_ms <= budget:
        return None
    return (f'LATENCY: state in -> command out p99 {age_ms:.1f} ms exceeds the policy\'s '
            f'latency budget of {budget:g} ms (symphony stress); the robot\'s DDS, driver '
            'and bus add to it')
