"""The demo database builder: deterministic, atomic, cancellable, and honest about what is on disk."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from services import demo_db
from services.demo_db import (
    SCHEMA_VERSION,
    TABLES,
    BuildCancelled,
    build_demo_db,
    demo_db_status,
    ensure_demo_db,
    remove_stale_temp_files,
)

SCALE = 0.005  # ~8k rows: a few hundredths of a second to build


def table_hash(path: Path) -> str:
    """A digest of every row of every data table in rowid order (the file's bytes may legitimately differ)."""
    digest = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        for table in TABLES:
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".building"))


def dead_pid() -> int:
    # Above the kernel's pid_max no process can exist.
    return (
        int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
        if Path("/proc/sys/kernel/pid_max").exists()
        else 2**31 - 1
    )


@pytest.fixture
def built(tmp_path: Path) -> Path:
    return build_demo_db(tmp_path / "demo.sqlite3", scale=SCALE)


def test_builds_the_tables_with_a_version_marker(built: Path) -> None:
    conn = sqlite3.connect(built)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["seed"] == "1234" and float(meta["scale"]) == SCALE
    expected = demo_db.row_counts(SCALE)
    for table in ("customers", "products", "orders", "reviews"):
        assert counts[table] == expected[table]
    assert counts["orders"] <= counts["order_items"] <= 5 * counts["orders"]  # 1..5 items per order
    assert demo_db_status(built) == "ok"


def test_rows_scale_linearly(tmp_path: Path) -> None:
    small = demo_db.row_counts(0.01)
    big = demo_db.row_counts(1.0)
    assert big["orders"] == 100 * small["orders"]
    assert sum(big.values()) + 3 * big["orders"] > 1_000_000  # "a million-odd rows" at scale 1.0


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    a = build_demo_db(tmp_path / "a.sqlite3", scale=SCALE, seed=7)
    b = build_demo_db(tmp_path / "b.sqlite3", scale=SCALE, seed=7)
    c = build_demo_db(tmp_path / "c.sqlite3", scale=SCALE, seed=8)
    assert table_hash(a) == table_hash(b)
    assert table_hash(a) != table_hash(c)


def test_progress_is_reported_every_batch_up_to_the_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_db, "BATCH", 100)  # many batches even at a tiny scale
    calls: list[tuple[int, int, str]] = []
    build_demo_db(tmp_path / "demo.sqlite3", scale=SCALE, progress=lambda *a: calls.append(a))
    done = [d for d, _, _ in calls]
    assert done == sorted(done)  # never goes backwards
    assert len({t for _, t, _ in calls}) == 1  # the total is known from the start
    assert calls[-1] == (calls[-1][1], calls[-1][1], "done")
    conn = sqlite3.connect(tmp_path / "demo.sqlite3")
    rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    conn.close()
    assert calls[-1][1] == rows  # and it is exact
    stages = [s for _, _, s in calls]
    assert {"customers", "products", "orders", "reviews", "indexes"} <= set(stages)
    assert stages.count("customers") > 1  # one call per batch, not per table


def test_cancel_mid_build_leaves_no_file_then_a_rebuild_works(tmp_path: Path) -> None:
    target = tmp_path / "demo.sqlite3"
    cancel = threading.Event()
    stages: list[str] = []

    def progress(done: int, total: int, stage: str) -> None:
        stages.append(stage)
        if stage == "orders":  # well into the build: customers and products are already written
            cancel.set()

    with pytest.raises(BuildCancelled):
        build_demo_db(target, scale=SCALE, progress=progress, cancel=cancel)
    assert "reviews" not in stages  # it really stopped at the next batch
    assert not target.exists()
    assert leftovers(tmp_path) == []
    assert demo_db_status(target) == "missing"

    build_demo_db(target, scale=SCALE)
    assert demo_db_status(target) == "ok"


def test_cancelled_rebuild_keeps_the_old_database(built: Path) -> None:
    before = hashlib.sha256(built.read_bytes()).hexdigest()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(BuildCancelled):
        build_demo_db(built, scale=SCALE, seed=99, cancel=cancel)
    assert hashlib.sha256(built.read_bytes()).hexdigest() == before
    assert demo_db_status(built, scale=SCALE, seed=1234) == "ok"
    assert leftovers(built.parent) == []


def test_a_failing_build_removes_its_temp_file(tmp_path: Path) -> None:
    def explode(done: int, total: int, stage: str) -> None:
        if stage == "products":
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        build_demo_db(tmp_path / "demo.sqlite3", scale=SCALE, progress=explode)
    assert list(tmp_path.iterdir()) == []


def test_status_missing_ok_outdated_corrupt(tmp_path: Path, built: Path) -> None:
    assert demo_db_status(tmp_path / "nope.sqlite3") == "missing"
    assert demo_db_status(built) == "ok"
    assert demo_db_status(built, scale=SCALE, seed=1234) == "ok"
    # Built for another scale or seed than the caller wants: outdated.
    assert demo_db_status(built, scale=SCALE * 2) == "outdated"
    assert demo_db_status(built, seed=1) == "outdated"

    text = tmp_path / "text.sqlite3"
    text.write_text("this is not a database, just some text\n" * 200)
    assert demo_db_status(text) == "corrupt"
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert demo_db_status(empty) == "corrupt"
    truncated = tmp_path / "truncated.sqlite3"
    truncated.write_bytes(built.read_bytes()[: built.stat().st_size // 3])
    assert demo_db_status(truncated) == "corrupt"
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    assert demo_db_status(foreign) == "corrupt"  # a database, but not ours


def test_status_outdated_after_a_schema_version_change(built: Path) -> None:
    conn = sqlite3.connect(built)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert demo_db_status(built) == "outdated"


def test_status_never_writes(built: Path) -> None:
    before = hashlib.sha256(built.read_bytes()).hexdigest()
    mtime = built.stat().st_mtime_ns
    for _ in range(3):
        demo_db_status(built)
    assert hashlib.sha256(built.read_bytes()).hexdigest() == before
    assert built.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name]


def test_ensure_builds_only_when_needed(tmp_path: Path) -> None:
    target = tmp_path / "demo.sqlite3"
    calls: list[str] = []
    ensure_demo_db(target, scale=SCALE, progress=lambda d, t, s: calls.append(s))
    assert calls and demo_db_status(target) == "ok"
    inode, mtime = target.stat().st_ino, target.stat().st_mtime_ns

    calls.clear()
    assert ensure_demo_db(target, scale=SCALE, progress=lambda d, t, s: calls.append(s)) == target
    assert calls == []  # already ok: not rebuilt
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (inode, mtime)

    target.write_text("garbage")
    ensure_demo_db(target, scale=SCALE)
    assert demo_db_status(target) == "ok"
    ensure_demo_db(target, scale=SCALE, seed=5)  # another seed: outdated, rebuilt
    assert demo_db_status(target, scale=SCALE, seed=5) == "ok"


def test_stale_temp_file_is_never_taken_for_the_database_and_gets_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "demo.sqlite3"
    # What a build killed half-way leaves behind: a temp file named after the target, from a dead process.
    stale = tmp_path / f".{target.name}.{dead_pid()}.0badf00d.building"
    stale.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    assert demo_db_status(target) == "missing"

    ensure_demo_db(target, scale=SCALE)
    assert not stale.exists()
    assert demo_db_status(target) == "ok"
    assert leftovers(tmp_path) == []


def test_a_temp_file_of_a_live_build_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "demo.sqlite3"
    ours = tmp_path / f".{target.name}.{os.getpid()}.00000001.building"  # could be another thread's build
    ours.touch()
    other = tmp_path / f".other.sqlite3.{dead_pid()}.00000002.building"  # belongs to another target
    other.touch()
    assert remove_stale_temp_files(target) == []
    assert ours.exists() and other.exists()


@pytest.mark.parametrize("scale", [0, -1, 1000, float("nan")])
def test_rejects_a_bad_scale(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_demo_db(tmp_path / "demo.sqlite3", scale=scale)
    assert list(tmp_path.iterdir()) == []
