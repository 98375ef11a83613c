"""The entry points' objects: light declarations, so that `anobench list` imports neither torch nor
the modules that do the work (`deferred` imports them when the plugin is first used)."""

from anobench.api import DatasetPlugin, MethodPlugin, deferred

method = MethodPlugin(
    name="example-residual",
    description="Example plugin: distance of each pixel from its local mean",
    create=deferred("anobench_example.method:create"),
)

dataset = DatasetPlugin(
    name="example-squares",
    description="Example plugin: bright squares on smooth noise (generated)",
    open=deferred("anobench_example.dataset:open_dataset"),
)
