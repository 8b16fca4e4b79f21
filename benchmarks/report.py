"""The results as a Markdown table, a JSON document and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness import SCENARIOS, Results

PEERS = ("celery", "dramatiq", "taskiq", "saq", "arq", "streaq")


def number(value: float, unit: str) -> str:
    """A figure with as many digits as it deserves."""
    if unit in ("ms", "MiB", "%") and abs(value) < 10:
        return f"{value:.2f}"
    if abs(value) < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ratio(results: Results, scenario: str, system: str, metric: str) -> float | None:
    """A system's median over raw Redis's, measured in the same run."""
    ours, raw = (results.stats(scenario, s, metric) for s in (system, "raw"))
    if ours is None or raw is None or not raw["median"]:
        return None
    return ours["median"] / raw["median"]


def cell(results: Results, scenario: str, system: str, metric: str, unit: str) -> str:
    """``median ×ratio`` over ``min–max``; why not, when there is no figure."""
    found = results.stats(scenario, system, metric)
    if found is None:
        if system in results.unsupported.get(scenario, set()):
            return "n/a"
        return (
            "failed" if any(e.startswith(f"{scenario} {system} ") for e in results.errors) else "—"
        )
    text = f"**{number(found['median'], unit)}**"
    if system != "raw" and (r := ratio(results, scenario, system, metric)) is not None:
        text += f" {r:.2f}×"
    if found["n"] > 1:
        text += f"<br><sub>{number(found['min'], unit)}–{number(found['max'], unit)}</sub>"
    return text


def markdown(results: Results, systems: list[str]) -> str:
    """The table: a row per scenario and metric, a column per system."""
    head = ["scenario", "unit", *systems]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, spec in SCENARIOS.items():
        if name not in results.values and name not in results.unsupported:
            continue
        for metric in spec.metrics:
            title = f"{spec.title}, {metric.label}" if metric.label else spec.title
            cells = [
                cell(results, name, s, metric.key, metric.unit)
                if not spec.only or s in spec.only
                else ""
                for s in systems
            ]
            lines.append("| " + " | ".join([title, metric.unit, *cells]) + " |")
    return "\n".join(lines)


def repetitions(results: Results, systems: list[str]) -> str:
    """Every repetition, not only the median: a row per scenario and system, a column per
    repetition (``p50 / p99 / max`` for latencies, the figure for the rest) and the worst."""
    reps = max((len(v) for by in results.values.values() for v in by.values()), default=0)
    head = ["scenario", "system", *(f"#{i + 1}" for i in range(reps)), "worst"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, spec in SCENARIOS.items():
        for system in systems:
            runs = results.values.get(name, {}).get(system, [])
            if not runs:
                continue
            shown = [m for m in spec.metrics if any(m.key in r for r in runs)]
            cells = [
                " / ".join(number(r[m.key], m.unit) for m in shown if m.key in r) for r in runs
            ]
            worst = " / ".join(
                number(
                    (min if m.higher_is_better else max)(results.reps(name, system, m.key)),
                    m.unit,
                )
                for m in shown
            )
            unit = "/".join(m.label or m.unit for m in shown)
            if len(shown) > 1:
                unit += f" ({shown[0].unit})"
            cells += [""] * (reps - len(cells))
            lines.append("| " + " | ".join([f"{spec.title}, {unit}", system, *cells, worst]) + " |")
    return "\n".join(lines)


def targets(results: Results) -> list[str]:
    """Issue 19's targets for waasp, each marked met or missed from this run's figures:
    tails are judged in every repetition (the worst), rates by their medians."""
    out: list[str] = []

    def median(scenario: str, system: str, metric: str = "rate") -> float | None:
        found = results.stats(scenario, system, metric)
        return None if found is None else found["median"]

    def worst(scenario: str, metric: str) -> float | None:
        reps = results.reps(scenario, "waasp", metric)
        return max(reps) if reps else None

    def check(text: str, value: float | None, ok: bool | None) -> None:
        if value is None or ok is None:
            out.append(f"- {text}: not measured in this run")
        else:
            out.append(f"- {text}: {value:.2f} — **{'met' if ok else 'MISSED'}**")

    def at_least(text: str, ours: float | None, base: float | None, floor: float) -> None:
        r = ours / base if ours is not None and base else None
        check(f"{text} ≥ {floor}×", r, None if r is None else r >= floor)

    for scenario in ("enqueue", "bulk"):
        at_least(
            f"{SCENARIOS[scenario].title} / raw",
            median(scenario, "waasp"),
            median(scenario, "raw"),
            1.0,
        )
    at_least(
        "drain, 1 process / batched raw",
        median("drain1", "waasp"),
        median("drain1", "rawbatch"),
        0.9,
    )
    at_least(
        "drain, 2 processes / 1 process", median("drain2", "waasp"), median("drain1", "waasp"), 1.6
    )
    for scenario in ("latency", "latency_drained"):
        raw = results.reps(scenario, "raw", "p99")
        ours = worst(scenario, "p99")
        r = ours / max(raw) if ours is not None and raw else None
        check(f"{scenario}: worst p99 ≤ 1.5 × raw's worst", r, None if r is None else r <= 1.5)
        top = worst(scenario, "max")
        check(f"{scenario}: worst max ≤ 20 ms (ms)", top, None if top is None else top <= 20)
    for scenario, bound in (("delay", 5.0), ("delay_burst", 5.0), ("delay_mass", 100.0)):
        late = worst(scenario, "p99")
        check(
            f"{scenario}: worst p99 ≤ {bound:g} ms (ms)",
            late,
            None if late is None else late <= bound,
        )
    peers = [v for p in PEERS if (v := median("drain1", p)) is not None]
    at_least(
        "drain, 1 process / the best peer", median("drain1", "waasp"), max(peers, default=None), 2.0
    )
    for scenario in ("enqueue", "bulk", "drain1"):
        at_least(
            f"{SCENARIOS[scenario].title}, priorities on / the plain path",
            median(scenario, "waasp-prio"),
            median(scenario, "waasp"),
            0.9,
        )
    growth = median("rss", "waasp", "growth")
    check(
        "worker RSS growth N/10→N within ±10 % (%)",
        growth,
        None if growth is None else abs(growth) <= 10,
    )
    return out


def document(results: Results, meta: dict[str, Any]) -> dict[str, Any]:
    """Everything, for JSON: every repetition and its statistics."""
    stats: dict[str, Any] = {}
    for name, by_system in results.values.items():
        for system, reps in by_system.items():
            keys = sorted({k for rep in reps for k in rep})
            stats.setdefault(name, {})[system] = {
                "reps": reps,
                **{k: results.stats(name, system, k) for k in keys},
                "ratio_to_raw": {k: ratio(results, name, system, k) for k in keys},
            }
    return {
        **meta,
        "results": stats,
        "unsupported": {k: sorted(v) for k, v in results.unsupported.items()},
        "errors": results.errors,
        "check": results.check,
    }


def chart(results: Results, systems: list[str], path: Path) -> bool:
    """A bar per system for each scenario's headline metric; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [
        (
            name,
            spec.metrics[1]
            if len(spec.metrics) > 1 and spec.metrics[1].key == "p99"
            else spec.metrics[0],
        )
        for name, spec in SCENARIOS.items()
        if name in results.values and not spec.only
    ]
    if not panels:
        return False
    columns = 3
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows), squeeze=False)
    for ax, (name, metric) in zip(axes.flat, panels, strict=False):
        shown = [s for s in systems if results.stats(name, s, metric.key)]
        medians = [results.stats(name, s, metric.key)["median"] for s in shown]  # type: ignore[index]
        colors = [
            "#d62728" if s == "waasp" else "#7f7f7f" if s == "raw" else "#1f77b4" for s in shown
        ]
        ax.bar(shown, medians, color=colors)
        better = "higher" if metric.higher_is_better else "lower"
        label = f"{metric.label}, " if metric.label else ""
        ax.set_title(
            f"{SCENARIOS[name].title}\nmedian {label}{metric.unit}, {better} is better", fontsize=9
        )
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        if not metric.higher_is_better and medians and max(medians) > 50 * min(medians):
            ax.set_yscale("log")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write(results: Results, systems: list[str], meta: dict[str, Any], out: Path) -> str:
    """Write results.md, results.json and results.png under ``out``; the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(
        [
            f"Run {meta['date']} — `{meta['command']}`",
            "",
            markdown(results, systems),
            "",
            "Bold: median of the repetitions; then the ratio to raw Redis in the same run; "
            "below: min–max. n/a: the system has no such feature (see the README). raw: one "
            "round trip per settle; rawbatch: one pipeline per batch of up to 100.",
            "",
            "Every repetition:",
            "",
            repetitions(results, systems),
            "",
            "Targets (waasp):",
            *targets(results),
            *([""] + ["Errors:"] + [f"- {e}" for e in results.errors] if results.errors else []),
            *(["", f"Check endpoint: `{json.dumps(results.check)}`"] if results.check else []),
        ]
    )
    (out / "results.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps(document(results, meta), indent=2) + "\n")
    chart(results, systems, out / "results.png")
    return text
