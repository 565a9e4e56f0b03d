"""Analysis of a grid's saved results (results/<grid>/): loading, slices, paired significance,
drift curves and correlations. The notebooks under notebooks/ call these; figures use them too.

    from bench.analysis import load_results, compare_rows, row_window_curves
    results = load_results("results/demo")
    compare_rows(results.scores, "clarity", baseline=results.rows[0])
"""

from bench.analysis.drift_analysis import metric_correlations, row_window_curves, start_end_table
from bench.analysis.metric_agreement import AgreementReport, agreement_markdown, metric_agreement
from bench.analysis.results_folder import ResultsFolder, ResultsNotFoundError, load_results
from bench.analysis.significance import (
    bootstrap_mean_ci,
    compare_rows,
    holm,
    paired_values,
    sign_flip_pvalue,
)
from bench.analysis.slices import slice_table
from bench.analysis.votes import position_bias

__all__ = [
    "AgreementReport", "agreement_markdown", "metric_agreement",
    "ResultsFolder", "ResultsNotFoundError", "bootstrap_mean_ci", "compare_rows", "holm", "load_results",
    "metric_correlations", "paired_values", "position_bias", "row_window_curves", "sign_flip_pvalue", "slice_table",
    "start_end_table",
]
