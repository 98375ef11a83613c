"""Built-in methods, registered through anobench's entry points."""
