"""Run every benchmark and print one table (or ``--json``): each figure beside a baseline from the same run.

python -m bench            # everything (several minutes: the lag, load and webhook runs wait for real job durations)
python -m bench --json     # machine-readable
python -m bench --only cold_start,context
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import anyio


@dataclass
class Row:
    bench: str
    figure: str
    value: float
    baseline: float | None
    baseline_name: str
    unit: str
    target: str
    met: bool | None
    #: When the ratio is measured directly (pairwise) rather than value / baseline.
    measured_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.measured_ratio is not None:
            return self.measured_ratio
        return self.value / self.baseline if self.baseline else None


def cold_start() -> list[Row]:
    from . import cold_start as m

    r = m.run(11)
    return [
        Row(
            "cold start",
            "spawn → tools/list, median of 11 (ratio: median of back-to-back pairs)",
            r["krea_ms"],
            r["stub_ms"],
            "bare 3-tool MCPServer",
            "ms",
            "≤ 1.10× stub",
            r["ratio"] <= 1.10,
            r["ratio"],
        )
    ]


def context() -> list[Row]:
    from . import context as m

    r = anyio.run(m.measure)
    groups = anyio.run(m.tools_by_groups)
    by_groups = [
        Row(
            "context",
            f"tools/list, KREA_TOOLS={setting or '(unset: default)'} ({count} tools)",
            size,
            baseline,
            "same tools, SDK-default schemas",
            "B",
            # issue 13: ≤ 6 KB with every tool of enhance, styles and training; issue 14: ≤ 7 KB with video too
            "≤ 7 KB (7,168 B)" if video else "≤ 6 KB (6,144 B)",
            size <= (7168 if video else 6144),
        )
        for setting, (count, size, baseline, video) in groups.items()
    ]
    return [
        *by_groups,
        Row(
            "context",
            "one-image result, preview off",
            r["one_image_result_bytes_preview_off"],
            r["baseline_result_bytes"],
            "SDK default (JSON text + structuredContent)",
            "B",
            "≤ 600 B",
            r["one_image_result_bytes_preview_off"] <= 600,
        ),
        Row(
            "context",
            "one-image result, thumbnail preview",
            r["one_image_result_bytes_preview_thumbnail"],
            None,
            "",
            "B",
            "≤ 64 KB preview budget",
            r["one_image_result_bytes_preview_thumbnail"] <= 64_000 + 1000,
        ),
        Row(
            "context",
            "one-image result for a client that shows the gallery (MCP Apps): no inline thumbnail",
            r["one_image_result_bytes_apps"],
            r["one_image_result_bytes_preview_thumbnail"],
            "the same result, thumbnail preview, without Apps",
            "B",
            "the thumbnail's bytes saved",
            r["one_image_result_bytes_apps"] < r["one_image_result_bytes_preview_thumbnail"],
        ),
        Row(
            "context",
            "tools/list as a host showing the gallery gets it (the 5 app-only tools included, kept from the model)",
            r["apps_tools_list_bytes"],
            r["tools_list_bytes"],
            "tools/list without Apps",
            "B",
            "—",
            None,
        ),
        Row(
            "context",
            "list_models (compact)",
            r["list_models_bytes"],
            r["baseline_list_models_bytes"],
            "every model's full parameters",
            "B",
            "small",
            None,
        ),
    ]


def lag() -> list[Row]:
    """Issue 15: the catalog case, then durations unlike the catalog's, spread and shifting (bench/lag.py)."""
    from . import lag as m

    results = anyio.run(m.measure_all)
    r = results["catalog"]
    base = "fixed 2 s polling, same jobs"
    rows = [
        Row(
            "lag",
            "catalog durations, nothing learned: completion → URLs held, p50",
            r["lag_p50_s"],
            r["baseline_lag_p50_s"],
            base,
            "s",
            "≤ 0.3 s",
            r["lag_p50_s"] <= 0.3,
        ),
        Row(
            "lag",
            "catalog durations, nothing learned: p95",
            r["lag_p95_s"],
            r["baseline_lag_p95_s"],
            base,
            "s",
            "≤ 0.6 s",
            r["lag_p95_s"] <= 0.6,
        ),
        Row(
            "lag",
            "catalog durations, nothing learned: GET /jobs/{id} per second of job (worst job)",
            r["max_gets_per_s"],
            r["baseline_max_gets_per_s"],
            base,
            "GET/s",
            "≤ 1",
            r["max_gets_per_s"] <= 1.0 + 1e-9,
        ),
    ]
    described = {
        "0.3x": "durations 0.3× the catalog's",
        "3x": "durations 3× the catalog's",
        "spread": "log-normal spread (σ 0.3)",
        "shift": "2× slower after 3 jobs, from the 3rd job after the shift",
    }
    for name, what in described.items():
        r = results[name]
        spread = name == "spread"  # the target there: better than fixed 2 s polling on the same jobs
        p50_ok = r["lag_p50_s"] < r["baseline_lag_p50_s"] if spread else r["lag_p50_s"] <= m.P50_TARGET_S
        p95_ok = r["lag_p95_s"] < r["baseline_lag_p95_s"] if spread else r["lag_p95_s"] <= m.P95_TARGET_S
        gets_ok = r["gets_per_s"] < r["baseline_gets_per_s"] if spread else r["gets_per_s"] <= m.GETS_TARGET
        if name == "shift":
            rows.append(
                Row(
                    "lag",
                    "2× slower after 3 jobs: jobs after the shift until every later one is within 0.6 s",
                    r["jobs_to_recover"],
                    None,
                    "",
                    "jobs",
                    "≤ 3",
                    r["jobs_to_recover"] <= 3,
                )
            )
        rows += [
            Row(
                "lag",
                f"{what}, after a warm-up job per model ({r['jobs']:.0f} jobs): p50",
                r["lag_p50_s"],
                r["baseline_lag_p50_s"],
                base,
                "s",
                "< fixed 2 s" if spread else "≤ 0.3 s",
                p50_ok,
            ),
            Row(
                "lag",
                f"{what}: p95",
                r["lag_p95_s"],
                r["baseline_lag_p95_s"],
                base,
                "s",
                "< fixed 2 s" if spread else "≤ 0.6 s",
                p95_ok,
            ),
            Row(
                "lag",
                f"{what}: GET /jobs/{{id}} per second of job (all jobs; worst job {r['max_gets_per_s']:.2f})",
                r["gets_per_s"],
                r["baseline_gets_per_s"],
                base,
                "GET/s",
                "< fixed 2 s" if spread else "≤ 1",
                gets_ok,
            ),
        ]
    return rows


def overhead() -> list[Row]:
    from . import overhead as m

    mem = anyio.run(m.in_memory, 300)
    std = anyio.run(m.over_stdio, 300)
    return [
        Row(
            "overhead",
            "get_job tool call, in memory, p50",
            mem["tool_ms"],
            mem["bare_ms"],
            "bare HTTP GET",
            "ms",
            "overhead ≤ 3 ms",
            mem["overhead_ms"] <= 3,
        ),
        Row(
            "overhead",
            "get_job tool call, stdio, p50",
            std["tool_ms"],
            std["bare_ms"],
            "bare HTTP GET",
            "ms",
            "overhead ≤ 6 ms",
            std["overhead_ms"] <= 6,
        ),
    ]


def load() -> list[Row]:
    from . import load as m

    r = m.run()
    return [
        Row(
            "concurrency",
            f"{r['calls']:.0f} generate+wait, emulator concurrency 10: wall",
            r["wall_s"],
            r["ideal_s"],
            "emulator-bound ideal",
            "s",
            "≤ 1.10× ideal",
            r["ratio"] <= 1.10,
        ),
        Row("concurrency", "server peak RSS", r["peak_rss_mb"], None, "", "MB", "≤ 120 MB", r["peak_rss_mb"] <= 120),
    ]


def saving() -> list[Row]:
    from . import saving as m

    r = m.run()
    return [
        Row(
            "saving",
            f"{r['images']} × {r['image_mb']:.1f} MB: wall",
            r["krea_wall_s"],
            r["baseline_wall_s"],
            "parallel plain httpx download",
            "s",
            "≤ 1.2× baseline",
            r["wall_ratio"] <= 1.2,
        ),
        Row(
            "saving",
            "RSS growth while saving",
            r["krea_rss_growth_mb"],
            r["baseline_rss_growth_mb"],
            "parallel plain httpx download",
            "MB",
            "≤ 20 MB",
            r["krea_rss_growth_mb"] <= 20,
        ),
    ]


def webhooks() -> list[Row]:
    from . import webhooks as m

    r = anyio.run(m.measure)
    base = "normal polling schedule"
    short = max(r[f"webhooks_gets_max_{s:g}s"] for s in m.CASES if s <= 20)
    long = max(m.CASES)
    return [
        Row(
            "webhooks",
            "completion → URLs held, p50",
            r["webhooks_lag_p50_s"],
            r["polling_lag_p50_s"],
            base,
            "s",
            "≤ 0.05 s",
            r["webhooks_lag_p50_s"] <= 0.05,
        ),
        Row(
            "webhooks",
            "completion → URLs held, p95",
            r["webhooks_lag_p95_s"],
            r["polling_lag_p95_s"],
            base,
            "s",
            "—",
            None,
        ),
        Row(
            "webhooks",
            "GET /jobs/{id} per job, jobs of 2-15 s (max)",
            short,
            max(r[f"polling_gets_max_{s:g}s"] for s in m.CASES if s <= 20),
            base,
            "GET",
            "≤ 2",
            short <= 2,
        ),
        Row(
            "webhooks",
            f"GET /jobs/{{id}} per job, {long:g} s jobs (max; one fallback look per 10 s)",
            r[f"webhooks_gets_max_{long:g}s"],
            r[f"polling_gets_max_{long:g}s"],
            base,
            "GET",
            f"≤ {long / 10 + 1:g}",
            r[f"webhooks_gets_max_{long:g}s"] <= long / 10 + 1,
        ),
        Row(
            "webhooks",
            "every call lost: fallback polling alone, lag p50",
            r["dropped_lag_p50_s"],
            r["polling_lag_p50_s"],
            base,
            "s",
            "≤ 10 s (the fallback's interval)",
            r["dropped_lag_p50_s"] <= 10,
        ),
    ]


#: ``--before PATH``: the scale-out bench runs its workers from another checkout's ``src``, without Redis.
BEFORE: list[str] = []


def scaleout() -> list[Row]:
    """Issue 16: two workers sharing Redis (bench/scaleout.py; with ``--before PATH``, old code without Redis)."""
    from . import scaleout as m

    return scaleout_rows(m.measure(BEFORE[0] if BEFORE else None))


def scaleout_rows(r: dict[str, Any]) -> list[Row]:
    from . import scaleout as m

    where = "2 workers sharing Redis" if r["redis"] else f"2 workers, no Redis ({r['code']})"
    load = f"{m.CALLS:,} generate+wait over HTTP, {where}, emulator concurrency {m.CONCURRENCY}, {m.DURATION_S:g} s"
    waiters = 2 * m.WAITERS_PER_WORKER
    return [
        Row("scale-out", f"{load}: errors", r["errors"], None, "", "calls", "0", r["errors"] == 0),
        Row(
            "scale-out",
            f"{load}: wall",
            r["wall_s"],
            r["ideal_s"],
            "emulator-bound ideal",
            "s",
            "≤ 1.15× ideal",
            r["wall_ratio"] <= 1.15,
        ),
        Row(
            "scale-out",
            f"{load}: peak Krea GET /jobs/{{id}} per second (worst second: {r['worst_per_running']:.2f} per running "
            f"job, {r['worst_per_live']:.2f} per live job; {r['live_at_peak']:.0f} live at the peak)",
            r["peak_gets_per_s"],
            r["running_at_peak"],
            "jobs running in that second",
            "GET/s",
            "— (bursty: a wave of endings moves the backlog's head)",
            None,
        ),
        Row(
            "scale-out",
            f"{load}: Krea GET /jobs/{{id}} per job, all jobs (one waiter each; most wait in Krea's backlog)",
            r["gets_per_job"],
            None,
            "",
            "GET",
            "≤ 6 (before shared state and backlog pacing: 8.95)",
            r["gets_per_job"] <= 6,
        ),
        Row(
            "scale-out",
            f"{load}: workers' RSS per waiting call (peak {r['peak_rss_mb']:.0f} MB, idle {r['idle_rss_mb']:.0f} MB)",
            r["rss_kb_per_call"],
            None,
            "",
            "KB",
            "—",
            None,
        ),
        Row(
            "scale-out",
            f"{waiters} wait_for_job on one job across 2 workers: Krea GET /jobs/{{id}} of that job",
            r["shared_gets"],
            r["single_gets"],
            "one waiter on an identical job, same run",
            "GET",
            "≤ 1.1× + 2",
            r["shared_gets"] <= 1.1 * r["single_gets"] + 2,
        ),
    ]


BENCHES: dict[str, Callable[[], list[Row]]] = {
    "cold_start": cold_start,
    "context": context,
    "overhead": overhead,
    "saving": saving,
    "lag": lag,
    "load": load,
    "webhooks": webhooks,
    "scaleout": scaleout,
}


def table(rows: list[Row]) -> str:
    head = "| bench | figure | krea-mcp | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        base = f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name})" if r.baseline is not None else "—"
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        lines.append(f"| {r.bench} | {r.figure} | {_fmt(r.value)} {r.unit} | {base} | {ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="krea-mcp benchmarks")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHES))
    parser.add_argument("--before", metavar="PATH", help="scaleout only: run its workers from PATH (a checkout's src)")
    args = parser.parse_args()
    BEFORE[:] = [args.before] if args.before else []
    names = args.only.split(",") if args.only else list(BENCHES)
    rows: list[Row] = []
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        rows += BENCHES[name]()
    if args.json:
        print(json.dumps({"machine": machine(), "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=2))
    else:
        print(table(rows))
        print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
