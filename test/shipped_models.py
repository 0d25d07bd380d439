"""The shipped policy files the tests read, named by what each is: one place for their paths.

Tests about a file's own figures name that file here rather than the robot's default
(`paths.SHIPPED_POLICIES`), so that a change of default does not change what they check.
"""

from symphony_ros import paths


def _model(name: str) -> str:
    return paths.share_path('models', name)


HUMANOID = _model('humanoid_v4_symphony.onnx')
"""The Humanoid-v4 paper reproduction (torques, no commands)."""
G1_FIRST = _model('g1_velocity_symphony.onnx')
"""The first G1 velocity file: one frame, unmirrored; its student's teacher."""
G1_SYM = _model('g1_velocity_symphony_sym.onnx')
"""The G1's symmetric (mirrored) actor: the robot's default policy."""
G1_STUDENT = _model('g1_velocity_symphony_student.onnx')
"""The first G1 file's student, seeing its last 4 observations."""
