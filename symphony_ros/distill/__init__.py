"""Distillation of an exported policy into a student robust to delay and sensor noise."""
