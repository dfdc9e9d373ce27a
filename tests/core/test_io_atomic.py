"""Atomic writers and stale-lock clean-up: nothing half-written is ever taken for complete."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from dnmarkets.core import io, runlock


def test_writer_interrupted_by_an_exception_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "table.parquet"

    def failing_write(table, where, **kwargs):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a table")
        raise OSError("disk full")

    monkeypatch.setattr(io.pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        io.write_parquet(pd.DataFrame({"a": [1, 2]}), target)
    assert list(target.parent.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_complete_file(tmp_path):
    target = tmp_path / "summary.json"
    io.write_json({"x": 1}, target)
    with pytest.raises(TypeError):
        io.write_json({"x": object()}, target)
    assert io.read_json(target) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_temp_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "listings.parquet"
    stale = tmp_path / ".listings.parquet.k1ll3d.tmp.parquet"  # what SIGKILL leaves
    stale.write_bytes(b"PAR1 partial")
    other = tmp_path / ".vendors.parquet.k1ll3d.tmp.parquet"  # another target's: kept
    other.write_bytes(b"PAR1 partial")
    io.write_parquet(pd.DataFrame({"a": [1]}), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "listings.parquet"]
    assert pd.read_parquet(target)["a"].tolist() == [1]


def test_outputs_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    io.write_text("x", tmp_path / "a.md")
    assert (tmp_path / "a.md").stat().st_mode & 0o777 == 0o666 & ~io._UMASK


def test_stale_locks_removed_only_when_no_run_holds_the_flock(tmp_path, monkeypatch):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("results/a.parquet\n")
    holder = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        fd = os.open({str(tmp_path / ".snakemake" / "dnm-run.flock")!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    live_run = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert live_run.stdout.readline().strip() == "held"
        assert runlock.clear_stale_locks(tmp_path / ".snakemake") == []
        assert (locks / "0.output.lock").exists(), "a live run's locks were removed"
    finally:
        live_run.communicate("")
    monkeypatch.setattr(runlock, "_HELD", [])
    removed = runlock.clear_stale_locks(tmp_path / ".snakemake")
    assert [p.name for p in removed] == ["0.output.lock"]
    assert not any(locks.iterdir())
    for fd in runlock._HELD:
        os.close(fd)
