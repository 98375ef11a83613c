"""The figure of `anobench prepare ixi` in docs/data.md: a raw-like head before and after preparation.

No real IXI scan can be shipped or fetched here, so the input is made from nilearn's MNI152 template:
a skull (dark shell) and scalp (bright shell) are added around its brain, and the head is moved by a
known affine (rotation 8°/−5°/4°, shift 6/−4/5 mm) onto a coarser 1.2 mm native grid, as a scanner's
would be. `prepare_ixi` then registers it back to the template and skull-strips it with the template's
brain mask, and the figure shows the raw mid-axial slice, the registered slice with the skull kept,
and the prepared slice the `ixi` adapter takes (anobench's orientation: anterior up).

    python bench/ixi_prepare_demo.py [--out docs/images/ixi-prepared.png]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
from scipy import ndimage  # noqa: E402

from anobench.api import DatasetContext, load_cases  # noqa: E402
from anobench.datasets import ixi  # noqa: E402
from anobench.datasets.ixi_prepare import prepare_ixi  # noqa: E402
from anobench.datasets.nifti import axial_slice, read_volume  # noqa: E402
from anobench.datasets.registration import nilearn_brain_mask, nilearn_template  # noqa: E402


def raw_head(template: Path, mask: Path) -> sitk.Image:
    """The template's brain with a skull and scalp around it, moved onto a 1.2 mm native grid."""
    brain = sitk.ReadImage(str(template), sitk.sitkFloat32)
    inside = sitk.GetArrayFromImage(sitk.ReadImage(str(mask))) > 0
    head = sitk.GetArrayFromImage(brain)
    skull = ndimage.binary_dilation(inside, iterations=7) & ~ndimage.binary_dilation(inside, iterations=2)
    scalp = ndimage.binary_dilation(inside, iterations=12) & ~ndimage.binary_dilation(inside, iterations=7)
    head = np.where(skull, 0.08, head) + np.where(scalp, 0.75, 0.0)
    image = sitk.GetImageFromArray(ndimage.gaussian_filter(head, 0.7).astype(np.float32))
    image.CopyInformation(brain)
    motion = sitk.Euler3DTransform((0.0, -18.0, 18.0), np.radians(8), np.radians(-5), np.radians(4), (6.0, -4.0, 5.0))
    native = sitk.Image([int(n / 1.2) + 20 for n in brain.GetSize()], sitk.sitkFloat32)
    native.SetSpacing((1.2, 1.2, 1.2))
    native.SetDirection(brain.GetDirection())
    axes = np.array(brain.GetDirection()).reshape(3, 3).diagonal()
    native.SetOrigin([origin - 12 * axis for origin, axis in zip(brain.GetOrigin(), axes)])
    return sitk.Resample(image, native, motion, sitk.sitkLinear, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/ixi-prepared.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        template, mask = nilearn_template(work / "templates"), nilearn_brain_mask(work / "templates")
        raw = work / "IXI-T1" / "IXI999-Demo-0000-T1.nii.gz"
        raw.parent.mkdir()
        sitk.WriteImage(raw_head(template, mask), str(raw))
        start = time.perf_counter()
        prepare_ixi(raw.parent, work / "kept", template, "MNI152NLin2009aSym", None)
        prepare_ixi(raw.parent, work / "ixi", template, "MNI152NLin2009aSym", mask)
        seconds = (time.perf_counter() - start) / 2
        kept = next((work / "kept").rglob("*_T1w.nii.gz"))
        prepared = load_cases(ixi.open_dataset({}, DatasetContext(128, work / "ixi")), "train")[0].image
        raw_volume = read_volume(raw)
        panels = [
            ("raw (native grid, moved)", axial_slice(raw_volume, raw_volume.shape[2] // 2 + 8, raw)),
            ("registered, skull kept", axial_slice(read_volume(kept), 95, kept)),
            ("prepared: registered, skull-stripped\n(the slice the ixi adapter reads)", prepared),
        ]
        figure, axes = plt.subplots(1, 3, figsize=(10, 3.9))
        for axis, (title, image) in zip(axes, panels):
            axis.imshow(image, cmap="gray")
            axis.set_title(title, fontsize=9)
            axis.axis("off")
        figure.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out} (registration and resampling: {seconds:.0f} s per scan)")


if __name__ == "__main__":
    main()
