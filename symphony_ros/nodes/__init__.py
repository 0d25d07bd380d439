"""Thin rclpy nodes: parameters in, messages <-> numpy, timers; logic lives in the core."""
