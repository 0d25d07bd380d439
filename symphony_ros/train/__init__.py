"""Training driven from outside the loop (the ROS trainer node); pure Python, never rclpy."""
