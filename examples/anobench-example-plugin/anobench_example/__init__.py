"""An outside anobench plugin distribution: one method (`example-residual`) and one data set
(`example-squares`). See docs/plugins.md of anobench for the contract they follow."""
