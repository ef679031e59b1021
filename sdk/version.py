"""The SDK's version, and how plugins say which versions they support.

A plugin declares the SDK versions it was written for with a module attribute on its entry
point module (the module its ``medianest.plugins`` entry point names)::

    MEDIANEST_SDK = ">=1.0,<2"

a PEP 440 version specifier. Core refuses at boot to load a plugin whose range does not
contain :data:`SDK_VERSION`, naming both. Installed plugins (entry points) must declare it;
plugin objects handed to the hub directly (tests, embedding) may leave it out.
"""

from __future__ import annotations

from typing import Final

SDK_VERSION: Final = "1.1.0"
"""The version of the plugin contract (semantic versioning: a breaking change bumps the
major version). Its history is in ``sdk/CHANGELOG.md``."""

SDK_REQUIREMENT_ATTRIBUTE: Final = "MEDIANEST_SDK"
"""The module attribute that holds a plugin's supported SDK versions (a specifier string)."""
