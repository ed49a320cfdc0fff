"""The meter lab: host-side meters that assay itself does not use (bench code).

assay's meters are ``cpu-time`` and ``instructions``, both run in the
sandbox (:mod:`assay.measure`). What is here measured the ideas behind them,
on the host, and stays for experiments and for docs/efficiency.md's
"Measured on this machine" figures:

* ``host_valgrind``: a warm valgrind harness on the host, and the perf backend;
* ``harness_process``: a call harness in a host subprocess;
* ``interpreter_events``: bytecodes executed (sys.monitoring, Python >= 3.12);
* ``memory``: a call's peak resident memory, and tracemalloc's heap peak;
* ``stats``: median, Hodges-Lehmann, distribution-free intervals, interleaved repeats;
* ``names``: the lab meters' names;
* ``overhead``: ``python bench/meterlab/overhead.py`` measures the lab meters.

Import with ``bench/`` on ``sys.path`` (the benches put it there).
"""
