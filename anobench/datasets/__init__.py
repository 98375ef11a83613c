"""Built-in dataset adapters, registered through anobench's entry points."""
