"""`anobench data make|verify` and `anobench prepare ixi`: data sets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from anobench.cli.app import console, data_app, prepare_app
from anobench.errors import AnobenchError


@data_app.command("make")
def data_make(
    name: str = typer.Argument(..., help="Dataset to (re)generate, e.g. brain-phantom."),
    set_: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY=VALUE", help="Generator option key=value."),
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
    from anobench.running.verification import verify_run_data

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
    keep_skull: bool = typer.Option(
        False, "--keep-skull", help="Do not skull-strip (ATLAS and the THOR work's data are stripped)."
    ),
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
