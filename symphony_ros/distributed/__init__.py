"""Distributed training on Ray: collector actors step environments, one learner updates.

Only the distributed path imports Ray (:mod:`.learner`); :mod:`.config`, :mod:`.chunks` and
:mod:`.workers` (collector, evaluator) are plain Python, so the CLI and trainer_node can
read the settings, and tests can drive a collector, without Ray.
"""
