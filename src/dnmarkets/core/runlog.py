"""Logging for rule scripts: everything a job says goes to its log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def job_logging(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send logging (and uncaught errors) of a rule script to its log file."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler, logging.StreamHandler(sys.stderr)]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    logger = logging.getLogger("dnmarkets.job")
    try:
        yield logger
    except Exception:
        logger.exception("job failed")
        raise
    finally:
        handler.flush()


def pause_for_tests(rule: str) -> None:
    """Test hook: sleep DNM_TEST_PAUSE_<RULE> seconds (unset in normal runs).

    The interrupted-run tests set it to hold a job at a known point (after it
    has written part of its outputs) and kill the workflow once the job's log
    says "test pause".
    """
    variable = f"DNM_TEST_PAUSE_{rule.upper()}"
    if seconds := os.environ.get(variable):
        logging.getLogger("dnmarkets.job").info("test pause: %s s (%s)", seconds, variable)
        time.sleep(float(seconds))
