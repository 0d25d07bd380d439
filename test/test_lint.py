"""ament's lint conventions, as a distro's `colcon test` applies them, in every `make test`.

flake8 with setup.cfg (99 columns) over code, tests, benches and launch files; pep257
docstrings (pydocstyle) over the package. Both tools come with ament_flake8/ament_pep257 in
a distro and with the `test` extra here.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEP257_IGNORE = 'D100,D104,D105,D107'
"""As the Makefile's lint target: module, package, magic-method and __init__ docstrings."""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_flake8():
    done = _run('flake8', 'symphony_ros', 'test', 'bench', 'launch', 'setup.py')
    assert done.returncode == 0, done.stdout + done.stderr


def test_pep257():
    done = _run('pydocstyle', '--convention=pep257', f'--add-ignore={PEP257_IGNORE}',
                'symphony_ros')
    assert done.returncode == 0, done.stdout + done.stderr
