"""What plugins provide, checked and indexed by provider id."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from medianest.core.plugins import PluginInfo, plugin_returned
from medianest.sdk.errors import NotFoundError, PluginError
from medianest.sdk.models import PROVIDER_ID_PATTERN
from medianest.sdk.providers import CAPABILITY_METHODS, PROVIDER_KINDS, SourceCapability

_PROVIDER_ID = re.compile(PROVIDER_ID_PATTERN)


def check_capabilities(info: PluginInfo, source: Any) -> None:
    """A media source declares a set of :class:`SourceCapability` and has, for each, the
    async methods of its protocol.

    :raises PluginError: naming the plugin, the source, the capability and the missing method.
    """
    declared = source.capabilities
    if not isinstance(declared, set | frozenset):
        raise PluginError(
            f"plugin {info.origin}: media source {source.id!r} has capabilities of type "
            f"{type(declared).__name__}; expected a frozenset of SourceCapability",
            plugin=info.key,
        )
    known = {c.value for c in SourceCapability}
    for capability in sorted(declared, key=str):
        if str(capability) not in known:
            raise PluginError(
                f"plugin {info.origin}: media source {source.id!r} declares the unknown "
                f"capability {capability!r} (known: {', '.join(sorted(known))})",
                plugin=info.key,
            )
        for method in CAPABILITY_METHODS[SourceCapability(capability)]:
            if not inspect.iscoroutinefunction(getattr(source, method, None)):
                what = "no" if getattr(source, method, None) is None else "a non-async"
                raise PluginError(
                    f"plugin {info.origin}: media source {source.id!r} declares the "
                    f"capability {str(capability)!r} but has {what} method "
                    f"'async def {method}(...)' ({type(source).__name__})",
                    plugin=info.key,
                )


class ProviderRegistry:
    """Providers by kind (``media_sources``, ``auth_providers``, ...) and id.

    Ids are unique within a kind; one plugin may use the same id in two kinds (the ``plex``
    sign-in and the ``plex`` source).
    """

    def __init__(self) -> None:
        self._providers: dict[str, dict[str, Any]] = {kind: {} for kind in PROVIDER_KINDS}
        self._owners: dict[tuple[str, str], PluginInfo] = {}

    def add_all(self, kind: str, provided: Iterable[tuple[PluginInfo, object]]) -> None:
        """Register what ``register_<kind>`` returned, checking type and id of each.

        :raises PluginError: wrong type, bad id, an id outside the plugin's key, or a duplicate.
        """
        protocol = PROVIDER_KINDS[kind]
        for info, provider in provided:
            hook = f"register_{kind}"
            plugin_returned(info, hook, provider, protocol, f"a {protocol.__name__}")
            provider_id = getattr(provider, "id", None)
            if not isinstance(provider_id, str) or not _PROVIDER_ID.match(provider_id):
                raise PluginError(
                    f"plugin {info.origin} returned a provider from {hook} with id "
                    f"{provider_id!r}; ids look like '{info.key}' or '{info.key}:<instance>'",
                    plugin=info.key,
                )
            if provider_id.split(":", 1)[0] != info.key:
                raise PluginError(
                    f"plugin {info.origin} returned a provider with id {provider_id!r} from "
                    f"{hook}; its ids must start with its key, e.g. '{info.key}:{provider_id}'",
                    plugin=info.key,
                )
            if kind == "media_sources":
                check_capabilities(info, provider)
            owner = self._owners.get((kind, provider_id))
            if owner is not None:
                raise PluginError(
                    f"duplicate provider id {provider_id!r} in {kind}: registered by plugin "
                    f"{owner.origin} and by plugin {info.origin}",
                    plugin=info.key,
                )
            self._providers[kind][provider_id] = provider
            self._owners[(kind, provider_id)] = info
            info.provides.setdefault(kind, []).append(provider_id)

    def all(self, kind: str) -> list[Any]:
        """Every provider of ``kind``, in registration order."""
        return list(self._providers[kind].values())

    def get(self, kind: str, provider_id: str) -> Any:
        """The provider of ``kind`` with ``provider_id``.

        :raises NotFoundError: none, listing the ids there are.
        """
        try:
            return self._providers[kind][provider_id]
        except KeyError:
            known = ", ".join(self._providers[kind]) or "none"
            raise NotFoundError(
                f"no {kind.replace('_', ' ')[:-1]} {provider_id!r} (known: {known})"
            ) from None

    def find(self, provider_id: str) -> Any:
        """The provider with ``provider_id`` in any kind (media sources first).

        :raises NotFoundError: no provider has that id.
        """
        for kind in ("media_sources", *[k for k in PROVIDER_KINDS if k != "media_sources"]):
            if provider_id in self._providers[kind]:
                return self._providers[kind][provider_id]
        raise NotFoundError(f"no provider {provider_id!r}")
