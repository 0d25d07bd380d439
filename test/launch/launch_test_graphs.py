"""Graphs of short ``python -c`` processes, for testing the runner of ``symphony launch``.

Run as ``symphony launch launch_test_graphs:STOP`` with this folder on PYTHONPATH.
"""

import sys

from symphony_ros.graph import GraphDef, LaunchArg, NodeSpec, ProcessSpec

# Exits 0 on SIGINT, like a well-behaved node.
WORKER = ('import signal, sys, time\n'
          'signal.signal(signal.SIGINT, lambda *a: sys.exit(0))\n'
          "print('ready', flush=True)\n"
          'while True: time.sleep(0.05)\n')
# Ignores SIGINT: only the SIGTERM step stops it.
STUBBORN = ('import signal, time\n'
            'signal.signal(signal.SIGINT, signal.SIG_IGN)\n'
            "print('ready', flush=True)\n"
            'while True: time.sleep(0.05)\n')
# Starts a grandchild that never ends by itself: only the signal to the whole process group
# (the launcher signals groups, not PIDs) reaches it.
PARENT = ('import subprocess, sys, time\n'
          "g = subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: "
          "time.sleep(0.05)'])\n"
          "print('grandchild', g.pid, flush=True)\n"
          "print('ready', flush=True)\n"
          'g.wait()\n')
ONESHOT = "print('done', flush=True)\n"
CRASH = ('import time\n'
         'time.sleep(0.5)\n'
         "print('crashing', flush=True)\n"
         'raise SystemExit(3)\n')


def _py(name, code, **kw):
    return ProcessSpec(name, (sys.executable, '-c', code), **kw)


STOP = GraphDef('stop', 'long-lived children of every temper', lambda: (), lambda v: [
    _py('worker', WORKER), _py('stubborn', STUBBORN), _py('parent', PARENT),
    _py('oneshot', ONESHOT, optional=True)])

FAIL = GraphDef('fail', 'a required child fails while another runs', lambda: (), lambda v: [
    _py('worker', WORKER), _py('crasher', CRASH)])

MISSING = GraphDef('missing', 'a required node of a package that is not installed',
                   lambda: (), lambda v: [
                       NodeSpec('no_such_package_xyz', 'node', 'ghost'),
                       _py('worker', WORKER)])

ECHO = GraphDef(
    'echo', 'a real rclpy node: parameters, parameter files, remappings, node name',
    lambda: (LaunchArg('greeting', 'hello', 'a string parameter'),
             LaunchArg('count', '3', 'an int parameter', type=int),
             LaunchArg('params_file', '', 'a parameter file keyed by the node name'),
             LaunchArg('chatter_topic', '/chatter', 'where chatter goes')),
    lambda v: [NodeSpec('symphony_ros', 'param_echo_node', 'echo',
                        parameters={'greeting': v['greeting'], 'count': v['count']},
                        param_files=(v['params_file'],) if v['params_file'] else (),
                        remappings=(('chatter', v['chatter_topic']),),
                        module='param_echo_node')])

SLOW_STOP = GraphDef('slow_stop', 'a node that needs longer than the launcher default to stop',
                     lambda: (), lambda v: [
                         NodeSpec('symphony_ros', 'slow_stop_node', 'saver',
                                  module='slow_stop_node', stop_timeout=10.0),
                         _py('worker', WORKER)])
