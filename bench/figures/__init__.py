"""Paper figure analogues drawn from files on disk (parsed schedules, the sampler's section plans,
the run store, results/<grid>/ and its ratings), as PNG and PDF in one style (matplotlib Agg).

One module per figure kind:

* `schedule_diagram` — Figure 1 analogue: a schedule's frames, kernels, tokens and bound
* `order_diagram` — Figure 2 analogue: a sampling order's section plan (`plan_sections`)
* `context_length` — tokens versus history length against the closed-form bound
* `drift_curves` — per-window metric curves per row with confidence bands
* `sample_strips` — frames at fixed times for one prompt across rows
* `table_figure` — a paper-style table drawn as a figure
* `ratings` — ELO-K32 / Bradley–Terry intervals and the win-rate matrix

`build.grid_figures` draws all of them for a grid (`fpbench figures GRID|all`); `style` holds the
shared look and `save_figure`.
"""

from bench.figures.build import FigureOptions, FigureReport, all_grids, grid_figures
from bench.figures.context_length import context_length_table, draw_context_length
from bench.figures.drift_curves import draw_drift_curves
from bench.figures.order_diagram import OrderPlan, draw_order, order_cells, plan_for_order
from bench.figures.ratings import draw_rating_intervals, draw_win_rate_matrix
from bench.figures.sample_strips import draw_sample_strip, frame_indices
from bench.figures.schedule_diagram import draw_schedule, frame_token_budget, schedule_layout
from bench.figures.style import save_figure
from bench.figures.table_figure import draw_table

__all__ = [
    "FigureOptions", "FigureReport", "OrderPlan", "all_grids", "context_length_table", "draw_context_length",
    "draw_drift_curves", "draw_order", "draw_rating_intervals", "draw_sample_strip", "draw_schedule",
    "draw_table", "draw_win_rate_matrix", "frame_indices", "frame_token_budget", "grid_figures", "order_cells",
    "plan_for_order", "save_figure", "schedule_layout",
]
