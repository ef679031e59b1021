"""Finding, gating, importing and calling plugins.

Plugins are found through the ``medianest.plugins`` entry-point group; the entry-point name is
the plugin key. A plugin whose boot flag is off is never imported. Core calls each plugin's
hook implementations one plugin at a time (:meth:`PluginHost.call`), so every result is known
to come from a named plugin and every failure names it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pluggy
import structlog
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import ValidationError

from medianest.config import Settings, SettingsError, describe_errors
from medianest.sdk import hookspecs
from medianest.sdk.errors import PluginError
from medianest.sdk.markers import PROJECT_NAME
from medianest.sdk.settings import PluginSettings
from medianest.sdk.version import SDK_REQUIREMENT_ATTRIBUTE, SDK_VERSION

API_VERSION = int(SDK_VERSION.split(".", 1)[0])

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "medianest.plugins"
BUNDLED_PLUGINS = frozenset({"plex", "youtube", "overseerr", "notify"})
"""Plugins shipped with MediaNest: on unless a boot flag turns them off."""
PLUGIN_KEY = re.compile(r"^[a-z][a-z0-9_]*$")

T = TypeVar("T")


def returned_message(plugin: str, source: str, value: object, expected: str) -> str:
    """The one wording of "a plugin handed core the wrong thing": names the plugin, where the
    value came from (a hook, a provider call), what it was and what core expected."""
    got = repr(value) if isinstance(value, type) else type(value).__name__
    return f"plugin {plugin} returned {got} from {source}; expected {expected}"


def plugin_returned(
    info: PluginInfo,
    hook: str,
    value: object,
    expected: type[T] | tuple[type[T], ...],
    described: str,
) -> T:
    """``value``, which plugin ``info`` returned from ``hook``, if it is an ``expected``.

    Every check of what plugins register goes through here, so each failure reads the same.
    For a protocol, the message lists the members ``value`` lacks.

    :param described: ``expected`` as the message names it (``medianest.sdk.Job``).
    :raises PluginError: ``value`` is not an ``expected``, naming plugin, hook and both types.
    """
    if isinstance(value, expected):
        return value
    protocol = isinstance(expected, type) and getattr(expected, "_is_protocol", False)
    missing = missing_members(value, expected) if protocol and isinstance(expected, type) else []
    detail = f" (missing: {', '.join(missing)})" if missing else ""
    raise PluginError(
        returned_message(info.origin, hook, value, described + detail), plugin=info.key
    )


def _protocol_members(protocol: type) -> set[str]:
    members: set[str] = set()
    for cls in protocol.__mro__:
        if cls.__module__ in {"typing", "builtins", "abc"}:
            continue
        members.update(getattr(cls, "__annotations__", {}))
        members.update(
            name
            for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")
        )
    return members


def missing_members(obj: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` does not have, sorted."""
    return sorted(name for name in _protocol_members(protocol) if not hasattr(obj, name))


@dataclass
class PluginInfo:
    """One installed (or directly given) plugin and what became of it at boot."""

    key: str
    distribution: str | None
    version: str | None
    bundled: bool
    enabled: bool
    module: object | None = None
    settings: PluginSettings | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """``key (distribution version)`` for messages."""
        if self.distribution:
            return f"{self.key!r} (from {self.distribution} {self.version})"
        return repr(self.key)


def _decode_json_values(model: type[PluginSettings], raw: dict[str, Any]) -> dict[str, Any]:
    """Lists and tables given as JSON text (from environment variables) become values.

    ``MEDIANEST_PLUGINS__PLEX__SERVERS='[{"name": "home", ...}]'`` arrives as a string; a
    field that takes text keeps it as text.
    """
    decoded = dict(raw)
    for name, value in raw.items():
        field_info = model.model_fields.get(name)
        if not isinstance(value, str) or field_info is None or field_info.annotation is str:
            continue
        if value.lstrip()[:1] in ("[", "{"):
            try:
                decoded[name] = json.loads(value)
            except ValueError:
                continue  # validation then says what the field expected
    return decoded


def _check_sdk_version(info: PluginInfo, plugin: object, *, required: bool) -> None:
    """Refuse a plugin whose declared SDK range does not hold this hub's SDK version.

    :raises PluginError: naming the plugin, the versions it supports and the hub's SDK version;
        also when an installed plugin declares nothing or an unreadable range.
    """
    declared = getattr(plugin, SDK_REQUIREMENT_ATTRIBUTE, None)
    if declared is None:
        if required:
            raise PluginError(
                f"plugin {info.origin} does not say which SDK versions it supports; its module "
                f"{getattr(plugin, '__name__', '?')} needs {SDK_REQUIREMENT_ATTRIBUTE} = "
                f'">={API_VERSION}.0,<{API_VERSION + 1}" (this hub has SDK {SDK_VERSION})',
                plugin=info.key,
            )
        return
    try:
        supported = SpecifierSet(str(declared))
    except InvalidSpecifier as exc:
        raise PluginError(
            f"plugin {info.origin} declares {SDK_REQUIREMENT_ATTRIBUTE} = {declared!r}, which is "
            'not a version range (write e.g. ">=1.0,<2")',
            plugin=info.key,
        ) from exc
    if not supported.contains(SDK_VERSION, prereleases=True):
        raise PluginError(
            f"plugin {info.origin} supports SDK versions {supported} but this hub has SDK "
            f"{SDK_VERSION}; install a version of the plugin made for SDK {SDK_VERSION}",
            plugin=info.key,
        )


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


class PluginHost:
    """The plugin manager of one hub; builds a fresh pluggy manager, no global state.

    :param settings: the hub's settings (boot flags and plugin sections).
    :param extra: plugin objects given directly (tests, embedding), by key; enabled unless
        a boot flag turns them off.
    :param autoload: discover installed plugins through entry points.
    :raises PluginError: a plugin fails to import, has a misspelled hook or bad settings model.
    :raises SettingsError: a boot flag or settings section names no plugin, or a plugin's
        settings are invalid.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        extra: Mapping[str, object] | None = None,
        autoload: bool = True,
    ) -> None:
        self.settings = settings
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        if autoload:
            self._discover(_entry_points())
        for key, plugin in (extra or {}).items():
            self._add_direct(key, plugin)
        self._check_flags_and_sections()
        self._check_pending()
        for info in self.enabled():
            info.settings = self._validate_settings(info)

    # discovery -------------------------------------------------------------------------------

    def _discover(self, entry_points: Iterable[metadata.EntryPoint]) -> None:
        for ep in entry_points:
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if ep.name in self.plugins:
                other = self.plugins[ep.name]
                raise PluginError(
                    f"two installed distributions provide the plugin {ep.name!r}: "
                    f"{other.distribution} and {dist}; uninstall one"
                )
            if not PLUGIN_KEY.match(ep.name):
                raise PluginError(
                    f"{dist} registers a plugin named {ep.name!r}; plugin keys are lower-case "
                    "letters, digits and _ (starting with a letter)"
                )
            bundled = ep.name in BUNDLED_PLUGINS
            enabled = self.settings.features.get(ep.name, bundled)
            info = PluginInfo(ep.name, dist, version, bundled, enabled)
            self.plugins[ep.name] = info
            if not enabled:
                self.pm.set_blocked(ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {info.origin} failed to import: {type(exc).__name__}: {exc}",
                    plugin=ep.name,
                ) from exc
            _check_sdk_version(info, module, required=True)
            self._register(info, module)

    def _add_direct(self, key: str, plugin: object) -> None:
        if not PLUGIN_KEY.match(key):
            raise PluginError(f"{key!r} is not a valid plugin key")
        if key in self.plugins:
            raise PluginError(f"the plugin {key!r} is given twice (installed and given directly)")
        version = getattr(plugin, "__version__", None)
        info = PluginInfo(key, None, version, False, self.settings.features.get(key, True))
        self.plugins[key] = info
        if info.enabled:
            _check_sdk_version(info, plugin, required=False)
            self._register(info, plugin)

    def _register(self, info: PluginInfo, plugin: object) -> None:
        try:
            self.pm.register(plugin, name=info.key)
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"plugin {info.origin} has an invalid hook: {exc}", plugin=info.key
            ) from exc
        info.module = plugin

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            key = self.pm.get_name(exc.plugin) or "?"
            origin = self.plugins[key].origin if key in self.plugins else repr(key)
            raise PluginError(
                f"plugin {origin} implements a hook that does not exist (misspelled?): {exc}",
                plugin=key,
            ) from exc

    def _check_flags_and_sections(self) -> None:
        known = ", ".join(sorted(self.plugins)) or "none"
        problems = [
            f"features.{key} [MEDIANEST_FEATURES__{key.upper()}]: no installed plugin is "
            f"called {key!r} (installed: {known})"
            for key in self.settings.features
            if key not in self.plugins
        ]
        problems += [
            f"plugins.{key} [MEDIANEST_PLUGINS__{key.upper()}]: no installed plugin is called "
            f"{key!r} (installed: {known})"
            for key in self.settings.plugins
            if key not in self.plugins
        ]
        if problems:
            raise SettingsError(problems)

    def _validate_settings(self, info: PluginInfo) -> PluginSettings | None:
        models = [model for model in self.call(info, "register_settings") if model is not None]
        raw = self.settings.plugins.get(info.key, {})
        if not models:
            if raw:
                raise SettingsError([f"plugins.{info.key}: plugin {info.origin} takes no settings"])
            return None
        model = models[0]
        if not (isinstance(model, type) and issubclass(model, PluginSettings)):
            raise PluginError(
                returned_message(
                    info.origin, "register_settings", model, "a PluginSettings subclass"
                ),
                plugin=info.key,
            )
        try:
            return model.model_validate(_decode_json_values(model, raw))
        except ValidationError as exc:
            raise SettingsError(describe_errors(exc, prefix=("plugins", info.key))) from exc

    # calling ---------------------------------------------------------------------------------

    def enabled(self) -> list[PluginInfo]:
        """The plugins that loaded, in key order."""
        return [info for info in self.plugins.values() if info.enabled]

    def call(self, info: PluginInfo, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` on one plugin only; returns each implementation's result.

        ``settings`` is filled with the plugin's own settings when the hook takes it.

        :raises PluginError: the implementation raised; the message names the plugin and hook.
        """
        kwargs.setdefault("settings", info.settings)
        caller = getattr(self.pm.hook, hook)
        results = []
        for impl in caller.get_hookimpls():
            if impl.plugin_name != info.key:
                continue
            try:
                results.append(impl.function(*[kwargs[name] for name in impl.argnames]))
            except Exception as exc:
                raise PluginError(
                    f"plugin {info.origin} failed in {hook}: {type(exc).__name__}: {exc}",
                    plugin=info.key,
                ) from exc
        return results

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[PluginInfo, Any]]:
        """Call a ``register_*`` list hook on every plugin; (plugin, item) for each item.

        :raises PluginError: a plugin returned something that is not a list.
        """
        collected: list[tuple[PluginInfo, Any]] = []
        for info in self.enabled():
            for result in self.call(info, hook, **kwargs):
                if result is None:
                    continue
                items = plugin_returned(info, hook, result, (list, tuple), "a list")
                collected.extend((info, item) for item in items)
        return collected
