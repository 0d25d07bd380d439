"""MuJoCo stand-in for the robot (pure Python; the ROS side is nodes/mujoco_sim_node)."""
