"""The ``symphony`` command-line interface (sub-commands in ``*_cmd`` modules)."""
