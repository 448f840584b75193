"""Score-card rendering time: median and p95 over 50 renders of a full card (12-week history).

Usage: .venv/bin/python bench/bench_card.py [--renders 50] [--locale en]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta

from bot.card import CardData, render_card
from bot.i18n import translator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--locale", default="en")
    args = parser.parse_args()

    tr = translator(args.locale)
    start = date(2026, 1, 5)
    card = CardData(name="Katharina Müller-Lüdenscheidt 🎸", community="Rust Beginners", score=47,
                    percentile=98.7, rank=3, members=1234, reach=23.4, resonance=0.84, network=1.42,
                    activity=12.3, history=[(start + timedelta(weeks=i), 20 + 2 * i + i % 3) for i in range(12)])

    t0 = time.perf_counter()
    size = len(render_card(card, tr))  # first render loads fonts and catalogs: reported apart
    first_ms = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(args.renders):
        t0 = time.perf_counter()
        render_card(card, tr)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"card render ({args.locale}, {size / 1024:.0f} KiB PNG): first {first_ms:.1f} ms, "
          f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms over {args.renders} renders")


if __name__ == "__main__":
    main()
