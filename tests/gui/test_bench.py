"""freezelab-bench's own logic: its JSON follows DESIGN.md, failing items are data, targets are judged."""

import json
import subprocess
import sys

from gui import bench, bench_scenarios
from services.runs import ItemResult, RunResult

RUN_KEYS = {
    "workload",
    "mode",
    "scenario",
    "items",
    "ok",
    "failed",
    "wall_s",
    "items_sum_s",
    "max_stall_ms",
    "p99_stall_ms",
    "results",
}
ITEM_KEYS = {"label", "ok", "seconds", "started", "ended", "error", "detail"}


def run_bench(tmp_path, *args):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gui.bench", *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_json_schema_and_table(tmp_path):
    stdout, data = run_bench(tmp_path, "--workload", "fetch", "--quick")
    assert {r["mode"] for r in data["runs"]} == {"blocking", "async", "asyncio-plain"}
    for run in data["runs"]:
        assert set(run) >= RUN_KEYS
        assert run["items"] == len(run["results"]) == run["ok"] + run["failed"]
        for item in run["results"]:
            assert set(item) == ITEM_KEYS
            assert 0 <= item["started"] <= item["ended"]
    assert set(data["environment"]) >= {"python", "platform", "cpus", "packages"}
    assert "asyncio-plain" in stdout and "max_stall_ms" in stdout


def test_failing_urls_are_data_and_exit_zero(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("ftp://example.invalid/x\nnot a url\n")
    _, data = run_bench(tmp_path, "--workload", "fetch", "--mode", "async", "--urls", str(urls))
    (run,) = data["runs"]
    assert run["failed"] == 2 and all(r["error"] for r in run["results"])


def test_scenario_targets_are_judged_from_medians():
    args = bench.parse_args(["--scenario", "cpu-jobs"])
    runs = [
        RunResult("cpu", mode, (), wall)
        for mode, wall in (
            ("blocking", 4.0),
            ("blocking", 6.0),
            ("process", 2.0),
            ("process", 3.0),
            ("thread", 5.0),
        )
    ]
    runs += [RunResult("cpu", "process", (), 2.5, max_stall_ms=12.0)]
    targets = {
        t.name: t
        for t in bench_scenarios.judge_cpu_jobs(bench_scenarios.BenchContext(args, *[None] * 5), runs)
    }
    ratio = targets["cpu-jobs: process wall / blocking wall"]
    assert ratio.measured == 2.5 / 5.0 and ratio.met
    assert "thread / blocking = 1.00" in ratio.note


def test_repeat_table_shows_medians():
    item = ItemResult("x", True, 1.0, 0.0, 1.0)
    runs = [RunResult("fetch", "async", (item,), w, scenario="s") for w in (1.0, 3.0, 2.0)]
    text = bench.table(runs, repeat=3)
    assert "2.000" in text and text.count("async") == 1


def test_unknown_scenario_is_an_error():
    import pytest

    with pytest.raises(SystemExit):
        bench.parse_args(["--scenario", "nope"])
