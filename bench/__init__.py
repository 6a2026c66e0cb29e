"""``nox -s bench``: the functions' speed and cost, each against a baseline measured in the same run.

Machines are shared and noisy, so a verdict is always a ratio to a baseline
run minutes apart on the same machine; absolute numbers are printed for
context only. ``python -m bench.run`` prints one table and writes it to
``bench/results.md``.
"""
