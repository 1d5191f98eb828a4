"""The Numba kernel that summarizes interval rows by time-of-use period in one pass (see
``rating.usage.summarize_matrix``)."""
import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def buckets(imported, exported, peaks, labels, periods):
    """One pass over each row: totals, per-period sums (import and net), per-period and overall peaks."""
    rows, count = imported.shape
    has_export = exported.shape[0] == rows
    sums = np.zeros((rows, periods), np.int64)
    net = np.zeros((rows, periods), np.int64)
    maxima = np.zeros((rows, periods), np.int64)
    seen = np.zeros(periods, np.bool_)
    totals = np.zeros(rows, np.int64)
    export_totals = np.zeros(rows, np.int64)
    net_export = np.zeros(rows, np.int64)
    peak = np.zeros(rows, np.int64)
    peak_at = np.zeros(rows, np.int64)
    for i in range(count):
        seen[labels[i]] = True
    for row in range(rows):
        best = np.int64(-1)
        for i in range(count):
            label = labels[i]
            value = imported[row, i]
            sums[row, label] += value
            totals[row] += value
            out = exported[row, i] if has_export else 0
            net[row, label] += value - out
            export_totals[row] += out
            if out > value:
                net_export[row] += out - value
            level = peaks[row, i]
            if level > maxima[row, label]:
                maxima[row, label] = level
            if level > best:
                best = level
                peak_at[row] = i
        peak[row] = max(best, 0)
    return sums, net, maxima, seen, totals, export_totals, net_export, peak, peak_at
