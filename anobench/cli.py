"""The `anobench` command: a thin shell over the Python API.

User errors (`AnobenchError`) are printed as one line on stderr with exit code 2, never a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import warnings
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console

from anobench.errors import AnobenchError

app = typer.Typer(
    help="Benchmark diffusion-model anomaly detectors on medical images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Make and inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
prepare_app = typer.Typer(help="Prepare real data sets from their raw releases.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
console = Console()
error_console = Console(stderr=True)
_debug = False  # set by --debug: show the traceback behind an error


@app.callback()
def options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback behind an error (e.g. a plugin's exception)."
    ),
) -> None:
    global _debug
    _debug = debug


@contextlib.contextmanager
def _interrupted() -> Iterator[None]:
    """On ^C, one line saying what was interrupted and how to resume (the harness's message)."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        error_console.print(
            f"interrupted: {interrupt}" if str(interrupt) else "interrupted",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise


@app.command("list")
def list_plugins() -> None:
    """Methods and datasets installed, with the distribution that provides each."""
    from rich.markup import escape
    from rich.table import Table

    from anobench import registry

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


@app.command()
def run(
    method: str = typer.Option(..., help="Method name (see `anobench list`)."),
    dataset: str = typer.Option(..., help="Dataset name (see `anobench list`)."),
    split: str = typer.Option("test", help="Split to score."),
    preset: str = typer.Option("cpu-small", help="Model preset: cpu-small (64², CPU) or paper (128²)."),
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint (default: the shipped one)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Method setting key=value, e.g. t0=250."),
    data: Optional[List[str]] = typer.Option(None, "--data", help="Dataset option key=value."),
    data_root: Optional[List[str]] = typer.Option(
        None,
        help="Folder of the data set (default: $ANOBENCH_DATA/<dataset>); NAME=DIR for another data set "
        "the run reads (the healthy split's), repeatable.",
    ),
    batch_size: int = typer.Option(8, help="Images per batch (results do not depend on it)."),
    seed: int = typer.Option(0, help="Inference seed; each case's noise depends on (seed, case id)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/<dataset>/<method>-<time>)."),
    overwrite: bool = typer.Option(False, help="Replace the results in an existing run folder."),
    rank: int = typer.Option(0, help="This process's shard (0-based)."),
    world_size: int = typer.Option(1, help="Number of shards; shards are merged when all are done."),
    limit: Optional[int] = typer.Option(None, help="Score only the first N cases (smoke tests)."),
    healthy_split: Optional[str] = typer.Option(
        None,
        help="Also score healthy cases that calibrate thresholds: auto (the data set's own: val for the "
        "phantoms' brains, ixi:val for atlas, test-healthy for wrists), a SPLIT, or NAME:SPLIT of another data set.",
    ),
    seeds: Optional[str] = typer.Option(
        None, help="Several inference seeds, e.g. 0,1,2: one run per seed in OUT/seed-<s>; boards show their spread."
    ),
    latency_cases: int = typer.Option(4, help="Cases timed again at batch size 1 after a warm-up call (0: none)."),
    precision: str = typer.Option("fp32", help="Network precision: fp32, or bf16 / fp16 autocast."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the network (first batches compile)."),
) -> None:
    """Score a dataset split with a method and write a run folder."""
    from dataclasses import replace

    from anobench import distributed
    from anobench.config import parse_assignments
    from anobench.harness import RunRequest, check_request, default_folder
    from anobench.harness import run as run_harness
    from anobench.sources import roots_for

    own_root, other_roots = roots_for(data_root, dataset)
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
        dataset_options=parse_assignments(data),
        data_root=own_root,
        data_roots=other_roots,
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
            with _interrupted():
                summary = run_harness(each, console)
            share = summary.network_seconds / summary.wall_seconds if summary.wall_seconds else 0.0
            state = "" if summary.merged else " (shard written; merged when every rank is done)"
            console.print(
                f"{summary.cases} cases in {summary.wall_seconds:.1f} s "
                f"({100 * share:.0f}% inside the network) → {summary.folder}{state}"
            )
    finally:
        distributed.stop()


@app.command()
def compare(
    targets: List[str] = typer.Argument(..., help="Run folders, globs, or a dataset name."),
    name: Optional[str] = typer.Option(None, help="Leaderboard name (default: the dataset)."),
    out_dir: Path = typer.Option(Path("leaderboards"), help="Folder for the Markdown leaderboard."),
    layout: str = typer.Option(
        "full",
        help="full: every column; table1 / table2: the THOR paper's Table 1 (brain) / Table 2 (boxes) "
        "with its reported rows beside.",
    ),
    overwrite: bool = typer.Option(False, help="Replace a leaderboard of the same name."),
    thresholds: str = typer.Option(
        "exact",
        help="Max-Dice and calibrated τ over every distinct map value (exact), or the THOR paper's grid "
        "0, 0.01, …, 1 (grid), for comparison with its numbers.",
    ),
) -> None:
    """Leaderboard of runs, recomputed from their per-case rows and maps (on the cases every run scored)."""
    from anobench.evaluation.boards import compare as compare_runs
    from anobench.evaluation.layouts import LAYOUTS

    command = " ".join(["anobench", *sys.argv[1:]])
    path, metrics = compare_runs(
        targets, name, out_dir, command=command, layout=layout, overwrite=overwrite, thresholds=thresholds
    )
    LAYOUTS[layout].show(metrics, console)
    console.print(f"wrote {path}")


@app.command()
def report(
    targets: List[str] = typer.Argument(..., help="Run folders, globs, or a dataset name (pixel-annotated runs)."),
    out: Path = typer.Option(..., help="Report folder, e.g. reports/phantom (index.md and PNG figures)."),
    thresholds: str = typer.Option("exact", help="exact or grid: as for `anobench compare`."),
) -> None:
    """Report of runs: leaderboard with intervals, significance matrix, PR curves, sweep, case panels."""
    from anobench.evaluation.report import write_report

    console.print(f"wrote {write_report(targets, out, ' '.join(['anobench', *sys.argv[1:]]), thresholds)}")


@app.command()
def sweep(
    method: List[str] = typer.Option(..., help="Method to sweep; repeat for several."),
    noise_levels: str = typer.Option(..., help="Comma-separated T0 values, e.g. 100,200,350,500."),
    dataset: str = typer.Option("brain-phantom", help="Dataset name."),
    split: str = typer.Option("test", help="Split to score."),
    preset: str = typer.Option("cpu-small", help="Model preset."),
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint for every method (default: the shipped ones)."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", help="Method setting key=value for every method, or METHOD.key=value for one."
    ),
    data: Optional[List[str]] = typer.Option(None, "--data", help="Dataset option key=value."),
    data_root: Optional[List[str]] = typer.Option(
        None, help="Folder of the data set; NAME=DIR for another data set the runs read (the healthy split's)."
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
    overwrite: bool = typer.Option(False, help="Score again the grid points that already have results."),
    latency_cases: int = typer.Option(0, help="Cases timed again at batch size 1 per run."),
) -> None:
    """Run every method at every noise level (finished grid points are kept) and plot Dice against T0."""
    from anobench.config import parse_assignments
    from anobench.evaluation.figures import sweep_plot
    from anobench.evaluation.pixel_protocol import evaluate_run
    from anobench.evaluation.report import sweep_series
    from anobench.harness import RunRequest
    from anobench.harness import run as run_harness
    from anobench.runs import is_complete
    from anobench.sources import roots_for

    try:
        levels = [int(value) for value in noise_levels.split(",")]
    except ValueError:
        raise AnobenchError(f"--noise-levels {noise_levels!r} is not a comma-separated list of integers") from None
    options = parse_assignments(set_)
    own_root, other_roots = roots_for(data_root, dataset)
    healthy = None if healthy_split == "none" else healthy_split  # by default every point gets its calibrated Dice
    folders = []
    for name in method:
        own = {key: value for key, value in options.items() if "." not in key}
        own |= {key.split(".", 1)[1]: value for key, value in options.items() if key.startswith(f"{name}.")}
        for level in levels:
            folder = out / name / f"t0-{level}"
            folders.append(folder)
            if is_complete(folder) and not overwrite:
                console.print(f"kept {folder}")
                continue
            point = RunRequest(
                method=name,
                dataset=dataset,
                split=split,
                preset=preset,
                checkpoint=checkpoint,
                method_options={**own, "t0": str(level)},
                dataset_options=parse_assignments(data),
                data_root=own_root,
                data_roots=other_roots,
                healthy_split=healthy,
                batch_size=batch_size,
                seed=seed,
                device=device,
                out=folder,
                overwrite=True,
                latency_cases=latency_cases,
            )
            with _interrupted():
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
    from anobench.runs import merge_shards

    if not merge_shards(folder, world_size):
        raise AnobenchError(f"{folder}: not every rank has finished yet")
    console.print(f"merged {folder}")


@app.command()
def train(
    dataset: List[str] = typer.Option(
        ["brain-phantom"],
        help="Training source NAME or NAME:SPLIT (default split: train); repeat to combine, "
        "e.g. --dataset ixi --dataset atlas:train-healthy (the THOR brain training set).",
    ),
    noise: str = typer.Option("gaussian", help="Noise of the diffusion process."),
    preset: str = typer.Option("cpu-small", help="Model preset: cpu-small or paper."),
    steps: int = typer.Option(3400, help="Optimiser steps."),
    batch_size: int = typer.Option(16, help="Images per step."),
    lr: float = typer.Option(1e-4, help="Adam learning rate."),
    ema_decay: float = typer.Option(0.999, help="Decay of the exported weight average."),
    augment: bool = typer.Option(True, help="THOR's affine + flip augmentation."),
    seed: int = typer.Option(0, help="Seed of every random choice."),
    save_every: int = typer.Option(200, help="Steps between resumable states."),
    scheme: str = typer.Option(
        "full",
        help="full: whole image noised (THOR, DDPM, AnoDDPM, AutoDDPM); patched: one noised cell per image (pDDPM).",
    ),
    patch_size: Optional[int] = typer.Option(
        None, help="Cell size of --scheme patched (default 48 px at 128 px, scaled)."
    ),
    out: Path = typer.Option(..., help="Checkpoint file to write (a manifest.json is kept beside it)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", help="Dataset option key=value (NAME.key=value with several sources)."
    ),
    data_root: Optional[List[str]] = typer.Option(
        None, help="Folder of a real data set (NAME=DIR with several sources; default: $ANOBENCH_DATA/<name>)."
    ),
) -> None:
    """Train a denoiser on healthy images; resumes an interrupted run of the same command."""
    from anobench.config import parse_assignments
    from anobench.sources import parse_data_roots
    from anobench.training import TrainConfig
    from anobench.training import train as run_training
    from anobench.training_data import join_sources

    config = TrainConfig(
        dataset=join_sources(dataset),
        noise=noise,
        preset=preset,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=ema_decay,
        augment=augment,
        seed=seed,
        save_every=save_every,
        scheme=scheme,  # type: ignore[arg-type]
        patch_size=patch_size,
    )
    entry = run_training(config, out, parse_assignments(set_), device, console, parse_data_roots(data_root))
    if entry:  # under torchrun, rank 0 writes and reports
        console.print(f"wrote {out} (sha256 {entry['sha256'][:12]}…, final loss {entry['final_loss']:.4f})")


@app.command("import-checkpoint")
def import_checkpoint(
    source: Path = typer.Argument(..., help="Checkpoint file published with another code base."),
    format: str = typer.Option("thor-release", help="Layout of SOURCE: thor-release (THOR's best_model.pt)."),
    out: Path = typer.Option(..., help="anobench checkpoint to write."),
    preset: str = typer.Option("paper", help="Architecture the weights were trained with."),
    noise: str = typer.Option("gaussian", help="Noise the model was trained with (gaussian or simplex)."),
    input_range: str = typer.Option(
        "-1,1", help="Intensity range the network is fed: -1,1 (as trained) or 0,1 (as the released evaluation)."
    ),
) -> None:
    """Convert a released checkpoint (MONAI Generative key names) into an anobench checkpoint."""
    from anobench.diffusion.noise import noise_kind
    from anobench.diffusion.release_import import FORMATS, import_thor_release

    if format not in FORMATS:
        raise AnobenchError(f"unknown checkpoint format {format!r}; available: {', '.join(FORMATS)}")
    noise_kind(noise)
    try:
        low, high = (float(value) for value in input_range.split(","))
    except ValueError:
        raise AnobenchError(f"--input-range {input_range!r} is not two numbers like -1,1") from None
    import_thor_release(source, out, preset, noise, (low, high))
    console.print(f"wrote {out} ({preset}, {noise} noise, input range [{low:g}, {high:g}])")


@data_app.command("make")
def data_make(
    name: str = typer.Argument(..., help="Dataset to (re)generate, e.g. brain-phantom."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Generator option key=value."),
) -> None:
    """Regenerate an embedded phantom into the cache."""
    from anobench.config import build_config, parse_assignments
    from anobench.datasets import brain_phantom

    if name != "brain-phantom":
        raise AnobenchError(f"only brain-phantom can be generated, not {name!r}")
    config = build_config(brain_phantom.PhantomConfig, parse_assignments(set_))
    root = brain_phantom.generate(config, brain_phantom.phantom_dir(config))
    console.print(f"wrote {root}")


@data_app.command("verify")
def data_verify(runs_: List[Path] = typer.Argument(..., metavar="RUNS...", help="Run folders to check.")) -> None:
    """Re-read the data each run scored and check it is unchanged (manifest sha256)."""
    from anobench.verification import verify_run_data

    for folder in runs_:
        console.print(f"{folder}: data unchanged (manifest {verify_run_data(folder)[:12]}…)")


@prepare_app.command("ixi")
def prepare_ixi(
    raw_dir: Path = typer.Argument(..., help="The unpacked IXI-T1.tar (IXI*-T1.nii.gz files)."),
    out_dir: Path = typer.Argument(..., help="CAPS folder to write (read by --dataset ixi --data-root OUT_DIR)."),
    template: Optional[Path] = typer.Option(None, help="Template NIfTI (default: nilearn's MNI152 2009a, 1 mm)."),
    brain_mask: Optional[Path] = typer.Option(
        None, help="Brain mask in the template's space (default: nilearn's MNI152 brain mask; needed with --template)."
    ),
    keep_skull: bool = typer.Option(False, help="Do not skull-strip (ATLAS and the THOR work's data are stripped)."),
    space: str = typer.Option("MNI152NLin2009aSym", help="Space name written into the file names."),
) -> None:
    """Register raw IXI T1 scans to MNI space (SimpleITK affine) and skull-strip them; resumable."""
    from rich.progress import Progress

    from anobench.datasets.ixi_prepare import nilearn_brain_mask, nilearn_template, raw_scans
    from anobench.datasets.ixi_prepare import prepare_ixi as prepare
    from anobench.paths import cache_root

    if keep_skull and brain_mask is not None:
        raise AnobenchError("--keep-skull and --brain-mask contradict each other; pass one")
    if template is not None and brain_mask is None and not keep_skull:
        raise AnobenchError("a custom --template needs its --brain-mask to skull-strip (or pass --keep-skull)")
    templates = cache_root() / "templates"
    template = template or nilearn_template(templates)
    mask = None if keep_skull else brain_mask or nilearn_brain_mask(templates)
    with Progress(console=console) as progress:
        task = progress.add_task("register", total=len(raw_scans(raw_dir)))
        done, skipped = prepare(raw_dir, out_dir, template, space, mask, advance=lambda name: progress.advance(task))
    stripped = "skull kept" if mask is None else "skull-stripped"
    console.print(f"registered {done} scan(s) ({stripped}), {skipped} already prepared → {out_dir}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
    error_console.print(f"warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    warnings.showwarning = _show_warning  # one readable line instead of a source excerpt
    try:
        app()  # typer exits 130 on ^C, after `_interrupted` has said what to do
    except AnobenchError as error:
        if _debug and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        hint = " (anobench --debug … shows its traceback)" if error.__cause__ is not None and not _debug else ""
        error_console.print(f"error: {error}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
