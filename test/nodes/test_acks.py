"""The end-of-run wait for acknowledgements: one deadline over all publishers."""

import time

from rclpy.duration import Duration

from symphony_ros.nodes.acks import wait_for_acks


class _Unanswered:
    """A publisher whose subscriber never acknowledges: each wait runs to its timeout."""

    def __init__(self, given: list) -> None:
        self.given = given

    def wait_for_all_acked(self, timeout: Duration) -> bool:
        self.given.append(timeout.nanoseconds * 1e-9)
        time.sleep(timeout.nanoseconds * 1e-9)
        return False


def test_unanswered_publishers_share_one_deadline():
    given: list = []
    start = time.monotonic()
    wait_for_acks([_Unanswered(given) for _ in range(3)], 0.3)
    # Each later publisher is given what the first left: the three waits fit in 0.3 s.
    assert len(given) == 3
    assert given[0] <= 0.3
    assert sum(given) <= 0.3 + 1e-6
    assert given[1] <= 0.3 - given[0] + 1e-6
    assert time.monotonic() - start >= 0.3
