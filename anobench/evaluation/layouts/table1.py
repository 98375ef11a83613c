"""The THOR paper's Table 1 layout: each reproduced row beside the paper's reported one."""

from __future__ import annotations

from anobench.evaluation.cells import (
    PAPER_NAMES,
    board,
    bounds_section,
    interval_note,
    method_label,
    noise_family,
    seed_spread,
    seeds_note,
    spread,
    threshold_note,
    training_seeds_note,
    with_interval,
)
from anobench.evaluation.identity import Coverage
from anobench.evaluation.layouts.full import dice_pairs, pairs_section
from anobench.evaluation.pixel_protocol import BIN_NAMES, RunMetrics
from anobench.evaluation.published import CITATION, TABLE1_DATA, table1

TABLE1_SLOTS = [
    ("gaussian", "THOR"),
    ("gaussian", "DDPM"),
    ("gaussian", "AutoDDPM"),
    ("simplex", "THOR"),
    ("simplex", "AnoDDPM"),
    ("simplex", "pDDPM"),
]


def _table1_slot(m: RunMetrics) -> int:
    key = (noise_family(str(m.run.settings.get("noise", ""))), PAPER_NAMES.get(m.run.method, m.run.method))
    return TABLE1_SLOTS.index(key) if key in TABLE1_SLOTS else len(TABLE1_SLOTS)


def render_table1(metrics: list[RunMetrics], command: str, coverage: Coverage | None = None) -> str:
    """The THOR paper's Table 1 layout: each reproduced row followed by the paper's reported row."""
    reported = table1().set_index(["noise", "method"])
    headers = ["noise", "method", "source", "Dice average", *(f"Dice {name}" for name in BIN_NAMES)]
    headers += ["AUPRC", "NFE/img", "s/img"]
    seeded = any(m.seed_values for m in metrics)
    headers += ["Dice average over seeds"] if seeded else []
    retrained = any(m.training_seed_values for m in metrics)
    headers += ["Dice average over training seeds"] if retrained else []
    body: list[list[str]] = []
    shown: set[tuple[str, str]] = set()
    for m in sorted(metrics, key=_table1_slot):
        slot = _table1_slot(m)
        dice = [with_interval(m.intervals[f"dice {name}"]) for name in ["all", *BIN_NAMES]]
        body.append(
            [
                noise_family(str(m.run.settings.get("noise", "–"))),
                method_label(m.run),
                f"anobench, {m.run.dataset}",
                *dice,
                with_interval(m.intervals["auprc"]),
                f"{m.run.nfe:g}",
                f"{m.run.seconds_per_image:.3f}",
                *([seed_spread(m)] if seeded else []),
                *([spread(m.training_seed_values)] if retrained else []),
            ]
        )
        if slot < len(TABLE1_SLOTS) and TABLE1_SLOTS[slot] not in shown:
            shown.add(TABLE1_SLOTS[slot])
            row = reported.loc[TABLE1_SLOTS[slot]]
            values = [f"{row[column]:.2f}" for column in ("dice_average", "dice_small", "dice_medium", "dice_large")]
            body.append(
                [
                    TABLE1_SLOTS[slot][0],
                    TABLE1_SLOTS[slot][1],
                    f"reported ({TABLE1_DATA})",
                    *values,
                    *["–"] * (len(headers) - 3 - len(values)),
                ]
            )
    first = metrics[0]
    explanation = (
        f"Dice: pooled max-Dice ×100 ({threshold_note(first.thresholds)}, chosen on these cases), "
        '"average" pooled over all '
        "lesions, then per lesion-size bin; AUPRC: pooled pixel-level average precision ×100; NFE/img and "
        f's/img: medians over cases. Rows marked "reported ({TABLE1_DATA})" are the paper\'s published '
        f"numbers ({CITATION}, Table 1) on real data; they are not comparable in level with phantom numbers, "
        f"only in ordering. {interval_note(metrics)}"
        + (f" {seeds_note('Dice average')}" if seeded else "")
        + (f" {training_seeds_note('Dice average')}" if retrained else "")
    )
    title = f"Table 1 layout: {first.run.dataset} (split `{first.run.split}`) beside the THOR paper"
    return board(
        title,
        explanation,
        headers,
        body,
        [m.run for m in metrics],
        command,
        pairs_section(metrics, dice_pairs(metrics)) + bounds_section(metrics),
        coverage,
    )
