"""Print the Reliability table from the figures the last fault-suite run recorded.

python -m tests.faults.report            # reads test-artifacts/faults.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults.json"


def describe(figures: dict[str, object]) -> str:
    """The figures of one scenario as a short phrase."""
    skip = {"recorded_at", "passed", "seconds", "seed"}
    return ", ".join(f"{k} {v}" for k, v in figures.items() if k not in skip)


def main() -> None:
    """Print one Markdown row per recorded scenario."""
    if not FIGURES.exists():
        sys.exit(f"no figures at {FIGURES}: run `pytest -m faults` first")
    everything = json.loads(FIGURES.read_text())
    print("| scenario | passed | seconds | figures |")
    print("|---|---|---|---|")
    for name, figures in sorted(everything.items()):
        print(
            f"| `{name}` | {'yes' if figures.get('passed') else 'NO'} | "
            f"{figures.get('seconds')} | {describe(figures)} |"
        )


if __name__ == "__main__":
    main()
