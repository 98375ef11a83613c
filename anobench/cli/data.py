"""`anobench data make|verify` and `anobench prepare ixi|brats|mslub|wmh`: data sets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import Progress

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


TEMPLATE = typer.Option(None, help="Template NIfTI (default: nilearn's MNI152 2009a, 1 mm).")
TEMPLATE_MASK = typer.Option(
    None, help="Brain mask in the template's space (default: nilearn's MNI152 brain mask; needed with --template)."
)
KEEP_SKULL = typer.Option(
    False, "--keep-skull", help="Do not skull-strip (ATLAS and the THOR work's data are stripped)."
)
SPACE = typer.Option("MNI152NLin2009aSym", help="Name of the template's space, recorded with the prepared files.")


def _template_and_mask(template: Path | None, brain_mask: Path | None, keep_skull: bool) -> tuple[Path, Path | None]:
    """The template to register to and its brain mask (None: keep the skull)."""
    from anobench.datasets.registration import nilearn_brain_mask, nilearn_template
    from anobench.paths import cache_root

    if keep_skull and brain_mask is not None:
        raise AnobenchError("--keep-skull and --brain-mask contradict each other; pass one")
    if template is not None and brain_mask is None and not keep_skull:
        raise AnobenchError("a custom --template needs its --brain-mask to skull-strip (or pass --keep-skull)")
    templates = cache_root() / "templates"
    return template or nilearn_template(templates), None if keep_skull else brain_mask or nilearn_brain_mask(templates)


@prepare_app.command("ixi")
def prepare_ixi(
    raw_dir: Path = typer.Argument(
        ..., help="The unpacked IXI-T1.tar (IXI*-T1.nii.gz files), or IXI-T2.tar, IXI-PD.tar."
    ),
    out_dir: Path = typer.Argument(..., help="CAPS folder to write (read by --dataset ixi --data-root OUT_DIR)."),
    modality: str = typer.Option("t1", help="t1, t2 or pd: the scans registered (read with --data modality=t2)."),
    template: Optional[Path] = TEMPLATE,
    brain_mask: Optional[Path] = TEMPLATE_MASK,
    keep_skull: bool = KEEP_SKULL,
    space: str = SPACE,
) -> None:
    """Register raw IXI scans (T1, T2 or PD) to MNI space (SimpleITK affine) and skull-strip them; resumable."""
    from anobench.datasets.ixi import MODALITIES
    from anobench.datasets.ixi_prepare import prepare_ixi as prepare
    from anobench.datasets.ixi_prepare import raw_scans

    if modality not in MODALITIES:
        raise AnobenchError(f"--modality must be one of {', '.join(MODALITIES)}, not {modality!r}")
    template, mask = _template_and_mask(template, brain_mask, keep_skull)
    with Progress(console=console) as progress:
        task = progress.add_task("register", total=len(raw_scans(raw_dir, modality)))  # type: ignore[arg-type]
        done, skipped = prepare(
            raw_dir,
            out_dir,
            template,
            space,
            mask,
            advance=lambda name: progress.advance(task),
            modality=modality,  # type: ignore[arg-type]
        )
    stripped = "skull kept" if mask is None else "skull-stripped"
    console.print(f"registered {done} scan(s) ({stripped}), {skipped} already prepared → {out_dir}")


def _prepare_release(name: str, raw_help: str) -> None:
    """`anobench prepare NAME RAW_DIR OUT_DIR`: one release registered to MNI space (`lesion_prepare`)."""
    from anobench.datasets.lesion_releases import release

    of = release(name)

    def prepare(
        raw_dir: Path = typer.Argument(..., help=raw_help),
        out_dir: Path = typer.Argument(..., help=f"Folder to write (read by --dataset {name} --data-root OUT_DIR)."),
        modality: str = typer.Option(
            of.default_modality, help=f"{', '.join(of.modalities)}: the images registered (one per folder)."
        ),
        template: Optional[Path] = TEMPLATE,
        brain_mask: Optional[Path] = TEMPLATE_MASK,
        keep_skull: bool = KEEP_SKULL,
        space: str = SPACE,
    ) -> None:
        from anobench.datasets.lesion_prepare import prepare_release
        from anobench.datasets.registration import nilearn_brain_mask, nilearn_template
        from anobench.paths import cache_root

        of.modality(modality)  # an unknown one is named before the template is written
        if keep_skull and brain_mask is not None:
            raise AnobenchError("--keep-skull and --brain-mask contradict each other; pass one")
        templates = cache_root() / "templates"
        mask = brain_mask or (None if template else nilearn_brain_mask(templates))
        with Progress(console=console) as progress:
            task = progress.add_task("register", total=None)
            done, skipped = prepare_release(
                of,
                raw_dir,
                out_dir,
                modality,
                template or nilearn_template(templates),
                space,
                mask,
                keep_skull,
                advance=lambda subject: progress.advance(task),
            )
        console.print(f"registered {done} {name} {modality} scan(s), {skipped} already prepared → {out_dir}")

    stripped = "skull-stripped by the release" if of.skull_stripped else "then skull-stripped"
    prepare.__doc__ = (
        f"Register the {name} release's {of.default_modality} (or --modality) scans and their lesion masks to "
        f"MNI space (SimpleITK affine; {stripped}); resumable."
    )
    prepare_app.command(name)(prepare)


_prepare_release("brats", "The unpacked BraTS 2021 training data (BraTS2021_<id>/ folders, anywhere below).")
_prepare_release("mslub", "The unpacked MSLUB database (patient<nn>/ folders; the co-registered set).")
_prepare_release("wmh", "The unpacked WMH 2017 data (<site>/<subject>/pre/FLAIR.nii.gz with wmh.nii.gz).")
