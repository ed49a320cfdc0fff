"""Runs valgrind over the call harness inside the sandbox (exec mode): ``python -S driver.py``.

Not imported by assay: :func:`assay.measure.valgrind.instruction_counts`
reads this file's source and writes it into the sandbox's working directory
as ``driver.py``, next to:

* ``argv.txt``: the valgrind command, one argument per line
  (:func:`assay.measure.valgrind.valgrind_command`, harness path ``harness.py``);
* ``job.b64``: the harness's job frames, base64;
* ``harness.py``: ``assay/measure/call_harness.py``.

It feeds the frames to valgrind on stdin, in the measuring environment
(``MEASURE_ENV``, built from scratch: ``PYTHONHASHSEED=0``, no ``-E``/``-I``),
and leaves ``records.txt`` (the harness's stdout, one record per line) and
``logs.txt`` (every ``vg.<pid>.log``, each after a ``@@ <name>`` line) for
the supervisor to collect. Standard library only: it runs under ``-S``.
"""

import base64
import glob
import subprocess

# the same as assay.measure.harness_job.MEASURE_ENV (tests/test_measure_valgrind.py checks)
ENV = {"PYTHONHASHSEED": "0", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}


def main():
    job = base64.b64decode(open("job.b64").read())
    argv = open("argv.txt").read().split("\n")
    proc = subprocess.run(argv, input=job, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(ENV))
    with open("records.txt", "wb") as out:
        out.write(proc.stdout)
    with open("logs.txt", "w") as out:
        for path in sorted(glob.glob("vg.*.log")):
            out.write("@@ %s\n" % path)
            with open(path, errors="replace") as handle:
                out.write(handle.read())
    print(proc.returncode)


if __name__ == "__main__":
    main()
