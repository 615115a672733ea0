"""CLI: ``python -m components.datagen --rows N --seed S [--drift] --out PATH.csv``."""

from __future__ import annotations

import argparse
import sys
import time

from components._shared.log import get_logger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.datagen", description=__doc__)
    parser.add_argument("--rows", type=int, default=5000, help="number of transactions (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--drift", action="store_true", help="shift distributions (new merchants, countries...)")
    parser.add_argument("--fraud-rate", type=float, default=None, help="share of fraud (default 0.05, drift 0.08)")
    parser.add_argument("--out", required=True, help="output CSV path or gfile URI")
    args = parser.parse_args(argv)

    from components.datagen.fraud import write_csv

    log = get_logger("datagen")
    start = time.perf_counter()
    path = write_csv(args.out, args.rows, seed=args.seed, drift=args.drift, fraud_rate=args.fraud_rate)
    log.info(
        "wrote %s fraud transactions (seed=%d%s) to %s in %.1fs",
        f"{args.rows:,}",
        args.seed,
        ", drifted" if args.drift else "",
        path,
        time.perf_counter() - start,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
