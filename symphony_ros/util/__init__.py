"""Small helpers shared by the core, the nodes, the graph, the bags and the CLI.

Kept out of ``core`` so that a node or a bag tool needs no part of the learning core (and
never pays for importing torch) to write a file atomically, read a dataclass's field
documentation or stop on a signal.
"""
