"""One Bot Connector client per (service URL, audience) for the life of the process.

botbuilder's connector factory builds a new msrest `ConnectorClient` for every turn: its serializers,
a `requests` session, a connection pool and a TCP connection, used for one or two calls and never
closed. The client holds no per-turn state (credentials fetch and refresh their own tokens), so the
first one built for a service URL serves every later turn there, over its kept-alive connections.
"""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import AuthenticateRequestResult, ClaimsIdentity, ConnectorFactory


class ReusedConnectors(ConnectorFactory):
    """A connector factory that hands out the client built first for the same service URL."""

    def __init__(self, inner: ConnectorFactory, clients: dict[tuple[str, str | None], Any]):
        self.inner, self.clients = inner, clients

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (service_url, audience)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = await self.inner.create(service_url, audience)
        return client


class PooledAuthentication(ConfigurationBotFrameworkAuthentication):
    """`ConfigurationBotFrameworkAuthentication` whose connector clients are kept and reused.

    One bot per process (one app id), so a client is known by its service URL and audience alone."""

    def __init__(self, configuration: Any, **kwargs: Any):
        super().__init__(configuration, **kwargs)
        self.clients: dict[tuple[str, str | None], Any] = {}

    async def authenticate_request(self, *args: Any, **kwargs: Any) -> AuthenticateRequestResult:
        result = await super().authenticate_request(*args, **kwargs)
        if result.connector_factory is not None:
            result.connector_factory = ReusedConnectors(result.connector_factory, self.clients)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusedConnectors(super().create_connector_factory(claims_identity), self.clients)
