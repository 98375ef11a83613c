"""Method and dataset registries, filled from entry points.

anobench's own methods and datasets are declared as entry points in its pyproject, exactly as a
third-party distribution declares its own, so `anobench list` and `anobench run` treat both alike:

    [project.entry-points."anobench.methods"]
    my-method = "my_package.module:plugin"     # a `anobench.api.MethodPlugin`

Entry points are read lazily: a plugin's module is imported only when it is asked for. A name
offered by two distributions is an error naming both, never a silent choice, and only that name is
refused; a plugin whose import fails is named with its reason and the others keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Generic, TypeVar

from anobench.api import DatasetPlugin, MethodPlugin
from anobench.errors import AnobenchError

PluginT = TypeVar("PluginT", MethodPlugin, DatasetPlugin)

METHODS_GROUP = "anobench.methods"
DATASETS_GROUP = "anobench.datasets"


@dataclass(frozen=True)
class Entry:
    name: str
    distribution: str
    entry_point: metadata.EntryPoint


def _distribution_name(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.metadata["Name"] if dist is not None else "<unknown distribution>"


class Registry(Generic[PluginT]):
    """Plugins of one entry-point group, by name."""

    def __init__(self, group: str, kind: str, plugin_type: type[PluginT]) -> None:
        self.group = group
        self.kind = kind
        self.plugin_type: type[PluginT] = plugin_type

    def _scan(self) -> tuple[dict[str, Entry], dict[str, str]]:
        """Declared plugins by name, and the names two distributions claim (with the error to give)."""
        found: dict[str, Entry] = {}
        conflicts: dict[str, str] = {}
        for entry_point in metadata.entry_points(group=self.group):
            entry = Entry(entry_point.name, _distribution_name(entry_point), entry_point)
            previous = found.get(entry.name)
            if previous is None:
                found[entry.name] = entry
            elif (previous.distribution, previous.entry_point.value) != (entry.distribution, entry_point.value):
                conflicts[entry.name] = (
                    f"{self.kind} {entry.name!r} is registered twice: by distribution "
                    f"{previous.distribution!r} ({previous.entry_point.value}) and by "
                    f"{entry.distribution!r} ({entry_point.value}); uninstall one of them"
                )
        for name in conflicts:  # only the contested name is refused; every other plugin keeps working
            del found[name]
        return dict(sorted(found.items())), conflicts

    def entries(self) -> dict[str, Entry]:
        """All declared plugins, without importing them (names two distributions claim left out)."""
        return self._scan()[0]

    def conflicts(self) -> dict[str, str]:
        """Names declared by two distributions, each with the error a use of it gives."""
        return self._scan()[1]

    def entry(self, name: str) -> Entry:
        """The declared plugin `name`, without importing it; an unknown name lists the known ones."""
        entries, conflicts = self._scan()
        if name in conflicts:
            raise AnobenchError(conflicts[name])
        if name not in entries:
            raise AnobenchError(f"unknown {self.kind} {name!r}; available: {', '.join(entries) or 'none'}")
        return entries[name]

    def get(self, name: str) -> PluginT:
        entry = self.entry(name)
        try:
            plugin = entry.entry_point.load()
        except Exception as error:  # the plugin's own import failed: name it, keep the rest usable
            raise AnobenchError(
                f"{self.kind} {name!r} from {entry.distribution!r} cannot be loaded ({entry.entry_point.value}): "
                f"{type(error).__name__}: {error}"
            ) from error
        if not isinstance(plugin, self.plugin_type):
            raise AnobenchError(
                f"{self.kind} {name!r} from {entry.distribution!r} points to "
                f"{entry.entry_point.value}, which is not a {self.plugin_type.__name__}"
            )
        return plugin


methods: Registry[MethodPlugin] = Registry(METHODS_GROUP, "method", MethodPlugin)
datasets: Registry[DatasetPlugin] = Registry(DATASETS_GROUP, "dataset", DatasetPlugin)
