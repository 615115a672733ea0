"""TFDV feature statistics as chart data: shares over common buckets, top values, missing %, how much datasets differ.

Pure functions over ``DatasetFeatureStatisticsList`` protos, shared by the statistics report, the validation report
and validate's PSI (:func:`rebin`). No file access; the readers live with the artifact layouts.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tensorflow_metadata.proto.v0 import statistics_pb2

DEFAULT_SLICE = "All Examples"
#: Categories shown per categorical feature (most frequent in the reference first).
TOP_VALUES = 12
#: When the equal-width histogram puts more than this share of the examples in one bucket it cannot resolve the
#: distribution (long tails): quantile buckets are read instead (validate's drift JSD and PSI, the reports' bins).
CONCENTRATED_BUCKET_SHARE = 0.6

Buckets = list[tuple[float, float, float]]  # (low, high, count)


def default_slice(stats: statistics_pb2.DatasetFeatureStatisticsList) -> statistics_pb2.DatasetFeatureStatistics:
    """The unsliced dataset of a statistics list."""
    if len(stats.datasets) == 1:
        return stats.datasets[0]
    for dataset in stats.datasets:
        if dataset.name == DEFAULT_SLICE:
            return dataset
    return stats.datasets[0]


def num_examples(stats: statistics_pb2.DatasetFeatureStatisticsList) -> int:
    """Examples in the unsliced dataset of a statistics list (0 for an empty list)."""
    return int(default_slice(stats).num_examples) if stats.datasets else 0


def stat_name(fs: statistics_pb2.FeatureNameStatistics) -> str:
    """A feature's name (its dotted path for structured features)."""
    return ".".join(fs.path.step) if fs.path.step else fs.name


def features(stats: statistics_pb2.DatasetFeatureStatisticsList) -> dict[str, statistics_pb2.FeatureNameStatistics]:
    """Feature name -> its statistics, in the unsliced dataset."""
    return {stat_name(fs): fs for fs in default_slice(stats).features}


def rebin(buckets: Buckets, cuts: list[float]) -> list[float]:
    """Proportions of ``buckets`` in the bins (-inf, c0], (c0, c1], ..., (c_last, +inf), mass uniform within a bucket."""
    counts = [0.0] * (len(cuts) + 1)
    edges = [-math.inf, *cuts, math.inf]
    for low, high, n in buckets:
        if high <= low:
            counts[bisect.bisect_left(cuts, low)] += n
            continue
        width = high - low
        for i in range(len(counts)):
            overlap = min(high, edges[i + 1]) - max(low, edges[i])
            if overlap > 0:
                counts[i] += n * overlap / width
    total = sum(counts)
    return [c / total for c in counts] if total > 0 else counts


def _common(fs: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    kind = fs.WhichOneof("stats")
    return getattr(fs, kind).common_stats if kind in ("num_stats", "string_stats", "bytes_stats") else None


def histogram(fs: statistics_pb2.FeatureNameStatistics, kind: int = statistics_pb2.Histogram.STANDARD) -> Buckets:
    """Finite, non-empty buckets of a numeric feature's histogram of ``kind`` ([] when there is none)."""
    if not fs.HasField("num_stats"):
        return []
    for h in fs.num_stats.histograms:
        if h.type == kind:
            return [
                (b.low_value, b.high_value, b.sample_count)
                for b in h.buckets
                if b.sample_count > 0 and math.isfinite(b.low_value) and math.isfinite(b.high_value)
            ]
    return []


@dataclass
class FeatureView:
    """One feature across datasets (e.g. train, eval, serving): what the reports draw."""

    name: str
    kind: str  # numeric | categorical | other
    categories: list[str] = field(default_factory=list)  # bucket ranges or values
    shares: dict[str, list[float]] = field(default_factory=dict)  # dataset -> share of its rows per category
    missing: dict[str, float] = field(default_factory=dict)  # dataset -> share of examples missing the feature
    summary: dict[str, dict[str, float]] = field(default_factory=dict)  # dataset -> mean/std/min/max or unique
    difference: float = 0.0  # max over datasets of L-inf of shares vs the first, or of missing share
    binning: str = ""  # numeric: "equal-width buckets" or "quantile buckets" (of the first dataset)


def _missing_share(fs: statistics_pb2.FeatureNameStatistics, n: int) -> float:
    common = _common(fs)
    if common is None or n <= 0:
        return 0.0
    return max(0.0, min(1.0, (n - common.num_non_missing) / n))


def is_concentrated(fs: statistics_pb2.FeatureNameStatistics) -> bool | None:
    """Whether a numeric feature's equal-width histogram holds more than :data:`CONCENTRATED_BUCKET_SHARE` of the
    examples in one bucket (None when it has no such histogram)."""
    if not fs.HasField("num_stats"):
        return None
    standard = next((h for h in fs.num_stats.histograms if h.type == statistics_pb2.Histogram.STANDARD), None)
    total = sum(b.sample_count for b in standard.buckets) if standard else 0
    if total <= 0:
        return None
    return max(b.sample_count for b in standard.buckets) / total > CONCENTRATED_BUCKET_SHARE


def _reference_buckets(by_dataset: Mapping[str, statistics_pb2.FeatureNameStatistics]) -> tuple[Buckets, str]:
    """The buckets all datasets are re-binned onto: the first dataset's equal-width histogram, or its quantiles
    when the equal-width one is concentrated in one bucket."""
    ref = next((fs for fs in by_dataset.values() if histogram(fs)), None)
    if ref is None:
        return [], ""
    if is_concentrated(ref):
        quantiles = histogram(ref, statistics_pb2.Histogram.QUANTILES)
        if len({e for low, high, _ in quantiles for e in (low, high)}) > 2:
            return quantiles, "quantile buckets"
    return histogram(ref), "equal-width buckets"


def _numeric(view: FeatureView, by_dataset: Mapping[str, statistics_pb2.FeatureNameStatistics]) -> None:
    buckets, view.binning = _reference_buckets(by_dataset)
    edges = sorted({e for low, high, _ in buckets for e in (low, high)})
    cuts = edges[1:-1] if len(edges) > 2 else edges[:1]
    if cuts:
        bins = [-math.inf, *cuts, math.inf]
        lo, hi = (edges[0], edges[-1]) if edges else (0.0, 0.0)
        bins[0], bins[-1] = lo, hi
        view.categories = [f"{_short_num(bins[i])}–{_short_num(bins[i + 1])}" for i in range(len(bins) - 1)]
    for name, fs in by_dataset.items():
        ns = fs.num_stats
        view.summary[name] = {"mean": ns.mean, "std": ns.std_dev, "min": ns.min, "max": ns.max}
        h = histogram(fs)
        if cuts and h:  # a dataset without values has no distribution (its missing share says so)
            view.shares[name] = rebin(h, cuts)


def _short_num(x: float) -> str:
    if x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.3g}"


def _value_counts(fs: statistics_pb2.FeatureNameStatistics) -> dict[str, float]:
    ss = fs.string_stats
    if ss.rank_histogram.buckets:
        return {b.label: float(b.sample_count) for b in ss.rank_histogram.buckets}
    return {t.value: float(t.frequency) for t in ss.top_values}


def _categorical(view: FeatureView, by_dataset: Mapping[str, statistics_pb2.FeatureNameStatistics]) -> None:
    counts = {name: _value_counts(fs) for name, fs in by_dataset.items()}
    ref = next(iter(counts.values()))
    order = sorted(ref, key=lambda v: -ref[v])
    for c in counts.values():
        order += [v for v in sorted(c, key=lambda v: -c[v]) if v not in order]
    view.categories = order[:TOP_VALUES]
    for name, fs in by_dataset.items():
        total = float(fs.string_stats.common_stats.num_non_missing) or sum(counts[name].values()) or 1.0
        view.shares[name] = [counts[name].get(v, 0.0) / total for v in view.categories]
        view.summary[name] = {"unique": float(fs.string_stats.unique)}


def feature_views(datasets: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList]) -> list[FeatureView]:
    """Every feature of any dataset, compared across ``datasets`` (the first is the reference), most different first."""
    by_name: dict[str, dict[str, statistics_pb2.FeatureNameStatistics]] = {}
    sizes = {}
    for label, stats in datasets.items():
        sizes[label] = int(default_slice(stats).num_examples)
        for name, fs in features(stats).items():
            by_name.setdefault(name, {})[label] = fs
    views = []
    for name, by_dataset in by_name.items():
        first = next(iter(by_dataset.values()))
        kind = {"num_stats": "numeric", "string_stats": "categorical"}.get(first.WhichOneof("stats"), "other")
        view = FeatureView(name, kind)
        same_kind = {k: fs for k, fs in by_dataset.items() if fs.WhichOneof("stats") == first.WhichOneof("stats")}
        if kind == "numeric":
            _numeric(view, same_kind)
        elif kind == "categorical":
            _categorical(view, same_kind)
        view.missing = {k: _missing_share(by_dataset[k], sizes[k]) if k in by_dataset else 1.0 for k in datasets}
        view.difference = _difference(view)
        views.append(view)
    return sorted(views, key=lambda v: (-v.difference, v.name))


def _difference(view: FeatureView) -> float:
    missing = list(view.missing.values())
    out = max(missing) - min(missing) if missing else 0.0
    shares = [s for s in view.shares.values() if sum(s) > 0]
    for other in shares[1:]:
        out = max(out, max((abs(a - b) for a, b in zip(shares[0], other, strict=False)), default=0.0))
    return out
