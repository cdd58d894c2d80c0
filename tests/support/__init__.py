"""The tests' own library: what many test modules need, written once.

Why a package apart from ``conftest.py``: a conftest is pytest's plugin for its directory, and one
that doubles as the tests' library grows into a grab-bag every module imports. Here each kind of
helper has one module, and ``conftest.py`` keeps only fixtures and hooks:

* :mod:`tests.support.paths`: where the checkout and the shared captures are;
* :mod:`tests.support.prereqs`: the one "skip on a developer's machine, fail in CI" rule, for
  binaries and fixture files alike;
* :mod:`tests.support.polling`: the one "wait until a condition holds, or fail after a bound" loop;
* :mod:`tests.support.processes`: the one way to start a long-running child process (log file,
  readiness, stop) and to run a Python command to its end;
* :mod:`tests.support.net`: a free loopback port;
* :mod:`tests.support.wiring`: the exporter's parts wired to a simulated gateway as a user's config
  wires them;
* :mod:`tests.support.exporter`: the exporter as a real subprocess, serving or run to its end;
* :mod:`tests.support.series`: a metric set as a set of samples, and what hostile device input may
  leave in one.

Topic helpers stay beside the tests that use them (``tests/scrape.py``, ``tests/fault_env.py``,
``tests/e2e_support.py``, ``tests/fleet_support.py``, ``tests/simtime.py``, ``tests/clocks.py``).
"""
