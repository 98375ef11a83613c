"""`anobench list`, `run`, `sweep` and `merge`: plugins, and runs written into run folders."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from anobench.cli.app import app, console, interrupted
from anobench.errors import AnobenchError

if TYPE_CHECKING:
    from anobench.running.request import RunRequest, RunSummary


@app.command("list")
def list_plugins(
    name: Optional[str] = typer.Argument(None, help="A method or data set: list its settings instead."),
) -> None:
    """Methods and datasets installed, with the distribution that provides each; with a NAME, that
    method's `--set` settings (or that data set's `--data` options) with types, defaults and meaning."""
    from rich.markup import escape
    from rich.table import Table

    from anobench import registry

    if name is not None:
        _list_settings(name)
        return

    for kind, plugins in (("methods", registry.methods), ("datasets", registry.datasets)):
        table = Table(title=kind, title_justify="left")
        for column in ("name", "description", "distribution"):
            table.add_column(column)
        for name, entry in plugins.entries().items():
            try:
                description = plugins.get(name).description
            except AnobenchError as error:  # listed with its reason; the others stay usable
                description = f"[red]broken[/red]: {escape(str(error))}"
            table.add_row(name, description, entry.distribution)
        for name, reason in plugins.conflicts().items():
            table.add_row(name, f"[red]refused[/red]: {escape(reason)}", "(two distributions)")
        console.print(table)


def _list_settings(name: str) -> None:
    from rich.table import Table

    from anobench import registry
    from anobench.config import describe_settings

    found = [(kind, plugins) for kind, plugins in (("method", registry.methods), ("data set", registry.datasets))]
    found = [(kind, plugins) for kind, plugins in found if name in plugins.entries()]
    if not found:
        raise AnobenchError(f"no method or data set named {name!r}; `anobench list` shows what is installed")
    for kind, plugins in found:
        plugin = plugins.get(name)
        flag = "--set" if kind == "method" else "--data"
        if plugin.settings is None:
            console.print(f"{kind} {name}: its plugin does not declare its settings", markup=False)
            continue
        table = Table(title=f"{kind} {name}: {flag} KEY=VALUE", title_justify="left")
        for column in ("setting", "type", "default", "meaning"):
            table.add_column(column)
        for row in describe_settings(plugin.settings()):
            table.add_row(*row)
        console.print(table)


SCALE = "Scale, devices and timing"  # the help panel of the options a first run never needs


@app.command()
def run(
    context: typer.Context,
    method: Optional[str] = typer.Option(None, help="Method name (see `anobench list`)."),
    dataset: Optional[str] = typer.Option(None, help="Dataset name (see `anobench list`)."),
    config: Optional[Path] = typer.Option(
        None,
        help="A run folder's config.json: repeat that run (its method, data, settings, seed, healthy split); "
        "options given beside it override it, --set/--data add to its settings.",
    ),
    split: str = typer.Option("test", help="Split to score."),
    preset: str = typer.Option("cpu-small", help="Model preset: cpu-small (64², CPU) or paper (128²)."),
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint (default: the shipped one)."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE", help="Method setting key=value, e.g. t0=250."
    ),
    data: Optional[List[str]] = typer.Option(
        None,
        "--data",
        metavar="KEY=VALUE",
        help="Dataset option key=value; NAME.key=value for the data set of a healthy split.",
    ),
    data_root: Optional[List[str]] = typer.Option(
        None,
        metavar="DIR | NAME=DIR",
        help="Folder of the data set (default: $ANOBENCH_DATA/<dataset>); NAME=DIR for another data set "
        "the run reads (the healthy split's), repeatable.",
    ),
    batch_size: int = typer.Option(8, help="Images per batch (results do not depend on it).", rich_help_panel=SCALE),
    seed: int = typer.Option(0, help="Inference seed; each case's noise depends on (seed, case id)."),
    device: Optional[str] = typer.Option(
        None, help="cpu or cuda (default: cuda when available).", rich_help_panel=SCALE
    ),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/<dataset>/<method>-<time>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the results in an existing run folder."),
    rank: int = typer.Option(0, help="This process's shard (0-based).", rich_help_panel=SCALE),
    world_size: int = typer.Option(
        1, help="Number of shards; shards are merged when all are done.", rich_help_panel=SCALE
    ),
    limit: Optional[int] = typer.Option(None, help="Score only the first N cases (smoke tests)."),
    healthy_split: Optional[str] = typer.Option(
        None,
        help="Also score healthy cases that calibrate thresholds: auto (the data set's own: val for the "
        "phantoms' brains, ixi:val for atlas, test-healthy for wrists), a SPLIT, or NAME:SPLIT of another data set.",
    ),
    seeds: Optional[str] = typer.Option(
        None, help="Several inference seeds, e.g. 0,1,2: one run per seed in OUT/seed-<s>; boards show their spread."
    ),
    latency_cases: int = typer.Option(
        4, help="Cases timed again at batch size 1 after a warm-up call (0: none).", rich_help_panel=SCALE
    ),
    precision: str = typer.Option(
        "fp32", help="Network precision: fp32, or bf16 / fp16 autocast.", rich_help_panel=SCALE
    ),
    compile_: bool = typer.Option(
        False, "--compile", help="torch.compile the network (first batches compile).", rich_help_panel=SCALE
    ),
) -> None:
    """Score a dataset split with a method and write a run folder."""
    import time
    from dataclasses import replace

    started = time.perf_counter()

    from anobench import distributed
    from anobench.config import parse_assignments
    from anobench.running.harness import RunRequest, check_request, default_folder
    from anobench.running.harness import run as run_harness
    from anobench.running.sources import options_for, roots_for

    if config is None and (method is None or dataset is None):
        raise AnobenchError("give --method and --dataset (see `anobench list`), or --config of a run to repeat")
    recorded = repeated(config, context) if config is not None else {}
    method, dataset = recorded.get("method", method), recorded.get("dataset", dataset)
    assert method is not None and dataset is not None
    own_root, other_roots = roots_for(data_root, dataset)
    own_options, other_options = options_for(parse_assignments(data), dataset)
    launch = distributed.launched()
    if launch is not None:  # under torchrun the job's ranks are the shards
        if out is None:
            raise AnobenchError("under torchrun every rank must write into one folder: pass --out")
        from anobench.devices import select_device

        rank, world_size = launch.rank, launch.world_size
        device = distributed.device_for(launch, device)
        distributed.start(select_device(device))
    request = RunRequest(
        method=method,
        dataset=dataset,
        split=split,
        preset=preset,
        checkpoint=checkpoint,
        method_options=parse_assignments(set_),
        dataset_options=own_options,
        data_root=own_root,
        data_roots=other_roots,
        other_dataset_options=other_options,
        batch_size=batch_size,
        seed=seed,
        device=device,
        out=out,
        overwrite=overwrite,
        rank=rank,
        world_size=world_size,
        limit=limit,
        healthy_split=healthy_split,
        latency_cases=latency_cases,
        precision=precision,
        compile=compile_,
    )
    request = with_recorded(request, recorded)
    check_request(request)
    requests = [request]
    if seeds is not None:
        try:
            values = [int(value) for value in seeds.split(",")]
        except ValueError:
            raise AnobenchError(f"--seeds {seeds!r} is not a comma-separated list of integers") from None
        parent = out or default_folder(request)
        requests = [replace(request, seed=value, out=parent / f"seed-{value}") for value in values]
    try:
        for each in requests:
            with interrupted():
                summary = run_harness(each, console)
            lines = _summary(summary, time.perf_counter() - started)
            console.print(lines, markup=False, highlight=False, soft_wrap=True)
            started = time.perf_counter()
    finally:
        distributed.stop()


def repeated(config: Path, context: typer.Context) -> dict[str, Any]:
    """What `--config` repeats: the recorded request without the options this command line gives."""
    from anobench.running.request import recorded_request
    from anobench.running.reuse import checkpoint_replaced
    from anobench.store.folder import CONFIG, read_json

    recorded = recorded_request(config)
    config = config / CONFIG if config.is_dir() else config
    sources = {name: context.get_parameter_source(name) for name in context.params}
    given = {name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"}
    for name in ("method", "dataset"):
        if name in given and context.params[name] != recorded[name]:
            raise AnobenchError(
                f"--{name} {context.params[name]} differs from the {recorded[name]!r} of {config}: drop one"
            )
    changed = checkpoint_replaced(read_json(config))
    if changed is not None and "checkpoint" not in given:
        warnings.warn(f"the run of {config} cannot be repeated exactly: {changed}", stacklevel=1)
    given_fields = {name.rstrip("_") for name in given}  # `compile_` is the request's `compile`
    return {key: value for key, value in recorded.items() if key not in given_fields}


def with_recorded(request: RunRequest, recorded: dict[str, Any]) -> RunRequest:
    """`request` with the recorded fields (`repeated`) taken over; --set/--data add to the recorded
    settings, --data-root NAME=DIR to the recorded folders."""
    from dataclasses import replace

    if not recorded:
        return request
    fields = dict(recorded)
    fields["method_options"] = {**recorded["method_options"], **request.method_options}
    fields["dataset_options"] = {**recorded["dataset_options"], **request.dataset_options}
    others = recorded["other_dataset_options"]
    fields["other_dataset_options"] = {
        name: {**others.get(name, {}), **request.other_dataset_options.get(name, {})}
        for name in {*others, *request.other_dataset_options}
    }
    fields["data_roots"] = {**recorded["data_roots"], **request.data_roots}
    return replace(request, **fields)


def _summary(summary: RunSummary, total: float) -> str:
    """Where the run went and where its whole time went, stage by stage ("start-up": imports and
    what no stage covers)."""
    state = "" if summary.merged else " (shard written; merged when every rank is done)"
    stages = []
    for name, seconds in {**summary.stages, "start-up": total - sum(summary.stages.values())}.items():
        share = summary.network_seconds / seconds if name.startswith("scoring ") and seconds else None
        inside = "" if share is None else f" ({100 * share:.0f}% inside the network)"
        stages.append(f"{name} {seconds:.1f} s{inside}")
    return f"{summary.cases} cases in {total:.1f} s → {summary.folder}{state}\n  " + " · ".join(stages)


@app.command()
def sweep(
    method: List[str] = typer.Option(..., help="Method to sweep; repeat for several."),
    noise_levels: str = typer.Option(..., help="Comma-separated T0 values, e.g. 100,200,350,500."),
    dataset: str = typer.Option("brain-phantom", help="Dataset name."),
    split: str = typer.Option("test", help="Split to score."),
    preset: str = typer.Option("cpu-small", help="Model preset."),
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint for every method (default: the shipped ones)."),
    set_: Optional[List[str]] = typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Method setting key=value for every method, or METHOD.key=value for one.",
    ),
    data: Optional[List[str]] = typer.Option(
        None,
        "--data",
        metavar="KEY=VALUE",
        help="Dataset option key=value; NAME.key=value for the data set of a healthy split.",
    ),
    data_root: Optional[List[str]] = typer.Option(
        None,
        metavar="DIR | NAME=DIR",
        help="Folder of the data set; NAME=DIR for another data set the runs read (the healthy split's).",
    ),
    healthy_split: str = typer.Option(
        "auto",
        help="Healthy cases scored with every run, for the calibrated Dice: auto (the data set's own), a "
        "SPLIT, NAME:SPLIT, or none.",
    ),
    batch_size: int = typer.Option(8, help="Images per batch."),
    seed: int = typer.Option(0, help="Inference seed."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda."),
    out: Path = typer.Option(Path("runs/sweep"), help="Folder of the grid: OUT/<method>/t0-<T0>/, and OUT/sweep.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Score again the grid points that already have results."),
    latency_cases: int = typer.Option(0, help="Cases timed again at batch size 1 per run."),
) -> None:
    """Run every method at every noise level and plot Dice against T0. A finished grid point is kept
    unless it was scored with other settings or its checkpoint file has been replaced since."""
    from anobench.config import parse_assignments
    from anobench.evaluation.figures import sweep_plot
    from anobench.evaluation.pixel_protocol import evaluate_run
    from anobench.evaluation.report import sweep_series
    from anobench.running.harness import RunRequest
    from anobench.running.harness import run as run_harness
    from anobench.running.reuse import outdated_by
    from anobench.running.sources import options_for, roots_for
    from anobench.store.folder import is_complete

    try:
        levels = [int(value) for value in noise_levels.split(",")]
    except ValueError:
        raise AnobenchError(f"--noise-levels {noise_levels!r} is not a comma-separated list of integers") from None
    options = parse_assignments(set_)
    own_root, other_roots = roots_for(data_root, dataset)
    own_options, other_options = options_for(parse_assignments(data), dataset)
    healthy = None if healthy_split == "none" else healthy_split  # by default every point gets its calibrated Dice
    folders = []
    for name in method:
        own = {key: value for key, value in options.items() if "." not in key}
        own |= {key.split(".", 1)[1]: value for key, value in options.items() if key.startswith(f"{name}.")}
        for level in levels:
            folder = out / name / f"t0-{level}"
            folders.append(folder)
            point = RunRequest(
                method=name,
                dataset=dataset,
                split=split,
                preset=preset,
                checkpoint=checkpoint,
                method_options={**own, "t0": str(level)},
                dataset_options=own_options,
                data_root=own_root,
                data_roots=other_roots,
                other_dataset_options=other_options,
                healthy_split=healthy,
                batch_size=batch_size,
                seed=seed,
                device=device,
                out=folder,
                overwrite=True,
                latency_cases=latency_cases,
            )
            if is_complete(folder) and not overwrite:
                outdated = outdated_by(point, folder)
                if outdated is None:
                    console.print(f"kept {folder}")
                    continue
                console.print(f"scoring {folder} again: {outdated}")
            with interrupted():
                run_harness(point, console)
    series = sweep_series([evaluate_run(folder) for folder in folders])
    for label, points in series.items():
        console.print(f"{label}: " + ", ".join(f"T0 {t}: {100 * e.value:.2f}" for t, e in points))
    console.print(f"wrote {sweep_plot(series, out / 'sweep.png')}")


@app.command()
def merge(
    folder: Path = typer.Argument(..., help="Run folder holding shards/."),
    world_size: Optional[int] = typer.Option(None, help="The run's number of shards (needed when stale ones remain)."),
) -> None:
    """Merge the shards of a run written with --rank/--world-size."""
    from anobench.store.shards import merge_shards

    if not merge_shards(folder, world_size):
        raise AnobenchError(f"{folder}: not every rank has finished yet")
    console.print(f"merged {folder}")
