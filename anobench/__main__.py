"""`python -m anobench …` (what torchrun launches: `torchrun --nproc-per-node N -m anobench run …`)."""

from anobench.cli import main

main()
