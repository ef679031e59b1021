"""Test kit for MediaNest plugins (installed as a pytest plugin).

- the ``medianest_hub`` fixture builds and starts a real hub around the plugins you give it;
- :class:`~medianest.sdk.testing.contract.MediaSourceContract` is the behaviour every media
  source must show: subclass it and provide a ``media_source`` fixture.
"""

from medianest.sdk.testing.contract import MediaSourceContract
from medianest.sdk.testing.harness import HubHarness, RunningHub

__all__ = ["HubHarness", "MediaSourceContract", "RunningHub"]
