"""Test kit for MediaNest plugins (installed as a pytest plugin).

Install it with the ``testing`` extra (``pip install "medianest[testing]"``), which brings
pytest and pytest-asyncio; set ``asyncio_mode = "auto"`` in your pytest configuration.

- the ``medianest_hub`` fixture builds and starts a real hub around the plugins you give it;
- :class:`~medianest.sdk.testing.contract.MediaSourceContract` is the behaviour every media
  source must show: subclass it and provide a ``media_source`` fixture;
- :class:`~medianest.sdk.testing.request_contract.RequestBackendContract` is the same for
  request backends: subclass it and provide a ``request_backend`` fixture.
"""

from medianest.sdk.testing.contract import MediaSourceContract
from medianest.sdk.testing.harness import HubHarness, RunningHub
from medianest.sdk.testing.request_contract import RequestBackendContract

__all__ = ["HubHarness", "MediaSourceContract", "RequestBackendContract", "RunningHub"]
