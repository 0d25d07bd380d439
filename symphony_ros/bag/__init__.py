"""Rosbag2 recording and offline evaluation; pure Python (rosbags, numpy), never rclpy.

``writer`` (bags that survive a killed recorder), ``reader`` (also unfinished MCAP files),
``topics`` (what each topic is for), ``timeline`` (states, commands, torques), ``episodes``
(split and scored with the sim's reward), ``metrics``, ``openloop`` (policies replayed on
recorded states), ``evaluate``, ``report`` and ``plots``. The ROS side is
``symphony_ros.nodes.bag_recorder`` and ``symphony_ros.nodes.bag_player``.
"""
