"""The chaos suite: faults injected on loopback (a Redis of its own killed, garbage on its channels,
subscription storms, a server process killed), each test bounded in count and time, each ending
with the proof of convergence. Its figures are printed at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Figures:
    test: str
    faults: int
    acked: int
    present: int
    converge_s: float
    note: str


FIGURES: list[Figures] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest):
    """Call with (faults injected, writes acknowledged, of them present once, seconds to converge,
    and anything else worth printing)."""

    def record(faults: int, acked: int, present: int, converge_s: float, note: str = "") -> None:
        FIGURES.append(Figures(request.node.name, faults, acked, present, converge_s, note))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("chaos figures")
    terminalreporter.write_line(f"{'test':<56} {'faults':>6} {'acked':>6} {'present':>7} {'converged in':>12}")
    for f in FIGURES:
        terminalreporter.write_line(f"{f.test[:56]:<56} {f.faults:>6} {f.acked:>6} {f.present:>7} "
                                    f"{f.converge_s * 1000:>9.0f} ms  {f.note}")
