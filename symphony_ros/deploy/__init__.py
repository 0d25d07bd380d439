"""Deploy-side logic behind policy_node (pure Python: onnxruntime, numpy; never rclpy)."""
