"""Runs the real command line (``scratchlight.cli.main``) on many files in one process and
reports, per run, the exit code, stdout/stderr (captured at the file-descriptor level, so
C libraries and loggers are caught too), the files left in the output folder and the time.

Usage: python fuzz_runner.py CASES.json RESULTS.json, where CASES.json is a list of
{"args": [...], "out_dir": folder or null}. The caller sets the address-space limit.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback

TIME_LIMIT_S = 30


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"ran longer than {TIME_LIMIT_S} s")


def _run_one(main, args):
    """(exit code, stdout, stderr, seconds) of ``main(args)`` with fds 1 and 2 captured."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        start = time.monotonic()
        signal.alarm(TIME_LIMIT_S)
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001  (reported as a failure, never raised)
            code = "exception"
            sys.stderr.write(traceback.format_exc())
        finally:
            signal.alarm(0)
            seconds = time.monotonic() - start
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), seconds


def main() -> None:
    cases_path, results_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as f:
        cases = json.load(f)
    signal.signal(signal.SIGALRM, _alarm)
    from scratchlight.cli import main as cli_main

    results = []
    for case in cases:
        code, out, err, seconds = _run_one(cli_main, case["args"])
        left = sorted(os.listdir(case["out_dir"])) if case.get("out_dir") else []
        results.append({"args": case["args"], "code": code, "stdout": out[-2000:],
                        "stderr": err[-4000:], "seconds": seconds, "left": left})
    with open(results_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
