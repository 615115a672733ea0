"""Population stability index per numeric feature, from the histograms in two statistics (pure functions)."""

from __future__ import annotations

import math

from tensorflow_metadata.proto.v0 import statistics_pb2

from components._shared.stats_view import default_slice, rebin, stat_name
from components.validate.schema_setup import auto_sources

PSI_EPSILON = 1e-4


def _histogram(
    fs: statistics_pb2.FeatureNameStatistics, prefer: str = "QUANTILES"
) -> list[tuple[float, float, float]] | None:
    """Buckets (low, high, count) of a numeric feature: the ``prefer``red histogram, else the other one."""
    if not fs.HasField("num_stats"):
        return None
    histograms = {h.type: h for h in fs.num_stats.histograms}
    order = [statistics_pb2.Histogram.QUANTILES, statistics_pb2.Histogram.STANDARD]
    if prefer == "STANDARD":
        order.reverse()
    for kind in order:
        h = histograms.get(kind)
        if h is None:
            continue
        buckets = [
            (b.low_value, b.high_value, b.sample_count)
            for b in h.buckets
            if b.sample_count > 0 and math.isfinite(b.low_value) and math.isfinite(b.high_value)
        ]
        if buckets and sum(b[2] for b in buckets) > 0:
            return buckets
    return None


def psi_of_histograms(
    reference: list[tuple[float, float, float]],
    current: list[tuple[float, float, float]],
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of ``current`` against ``reference``, both as (low, high, count) buckets.

    Bins are the reference's bucket boundaries (its quantiles when the quantiles histogram is used),
    open-ended at both ends; both histograms are re-binned onto them assuming uniform mass within a
    bucket; empty bins count as ``epsilon``. PSI = sum((p_cur - p_ref) * ln(p_cur / p_ref)).
    """
    edges = sorted({e for low, high, _ in reference for e in (low, high)})
    cuts = edges[1:-1] if len(edges) > 2 else edges[:1]
    p_ref = rebin(reference, cuts)
    p_cur = rebin(current, cuts)
    total = 0.0
    for r, c in zip(p_ref, p_cur, strict=True):
        r, c = max(r, epsilon), max(c, epsilon)
        total += (c - r) * math.log(c / r)
    return float(total)


def population_stability_index(
    reference: statistics_pb2.DatasetFeatureStatisticsList,
    current: statistics_pb2.DatasetFeatureStatisticsList,
    epsilon: float = PSI_EPSILON,
    histogram: str = "auto",
) -> dict[str, float]:
    """PSI per numeric feature present in both statistics (from their histograms).

    ``histogram``: QUANTILES (bins = the reference's deciles), STANDARD (the reference's equal-width
    buckets) or ``auto``: QUANTILES for long-tailed features (:func:`auto_sources` of the reference), else
    the smaller of the two. Both re-bin assuming uniform mass within a bucket, which misplaces mass for
    discrete features (point masses in quantile buckets; integers straddling equal-width edges that move
    with the sample's min/max): measured on two samples of one distribution, taxi ``dropoff_census_tract``
    reads 0.16 on quantiles and 0.006 on equal-width, fraud ``num_tx_last_24h`` 0.001 and 0.13.
    """
    ref = {stat_name(fs): fs for fs in default_slice(reference).features}
    auto = auto_sources(reference) if histogram == "auto" else {}
    out = {}
    for fs in default_slice(current).features:
        name = stat_name(fs)
        if name not in ref:
            continue
        if histogram != "auto":
            choices = [histogram]
        elif auto.get(name) == "QUANTILES":
            choices = ["QUANTILES"]  # long tail: equal-width buckets can't see it
        else:
            choices = ["QUANTILES", "STANDARD"]  # the smaller: each one's binning artefacts only add PSI
        values = []
        for prefer in choices:
            h_ref, h_cur = _histogram(ref[name], prefer), _histogram(fs, prefer)
            if h_ref and h_cur:
                values.append(psi_of_histograms(h_ref, h_cur, epsilon))
        if values:
            out[name] = min(values)
    return dict(sorted(out.items()))
