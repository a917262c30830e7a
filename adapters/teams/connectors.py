"""One Bot Connector client per (service URL, audience) for the life of the process.

botbuilder's connector factory builds a new msrest `ConnectorClient` for every turn: its serializers,
a `requests` session, a connection pool and a TCP connection, used for one or two calls and never
closed. The client holds no per-turn state (credentials fetch and refresh their own tokens), so the
first one built for a service URL serves every later turn there, over its kept-alive connections.
Likewise the user-token client a proactive turn is given (a `TokenApiClient` with its own msrest
configuration and pipeline, ~0.5 ms of CPU to build, for OAuth prompts coach never shows): one per app id.

A kept client is also `settled`: what `requests` would read from the environment on every call is
read once, and msrest's client-side validation, which no Bot Framework model has a rule for, is off.
The floor (`bench/floor.py`) runs botbuilder with this class too: framework settings are not coach's.
"""

from __future__ import annotations

import os
from typing import Any

import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)


class ReusedConnectors(ConnectorFactory):
    """A connector factory that hands out the client built first for the same service URL."""

    def __init__(self, inner: ConnectorFactory, clients: dict[tuple[str, str | None], Any]):
        self.inner, self.clients = inner, clients

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (service_url, audience)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = settled(await self.inner.create(service_url, audience), service_url)
        return client


def settled(client: Any, service_url: str) -> Any:
    """`client` with its environment read once (~0.2 ms of CPU a Bot Connector call, measured).

    msrest's requests sender lets `requests` look for proxies in the environment on every call
    (`merge_environment_settings` walks all of `os.environ`, twice) and for a CA bundle there; the
    client is for one service URL, so its proxies (`NO_PROXY` applied) and `REQUESTS_CA_BUNDLE` or
    `CURL_CA_BUNDLE` are the same every time: they are set on its configuration, as msrest's
    `ProxyConfiguration` documents, and the per-call lookup is off. (A `~/.netrc` entry for the
    connector's host, which `requests` would also read per call, could only replace its token.)
    Validation checks the models' `_validation` rules; Bot Framework's models have none, so it
    walked every attribute of every activity (~0.1 ms) to find nothing: off, as Azure's generated
    clients have it."""
    config = getattr(client, "config", None)
    proxies = getattr(config, "proxies", None)
    if proxies is not None and proxies.use_env_settings:
        proxies.proxies = {**requests.utils.get_environ_proxies(service_url), **proxies.proxies}
        proxies.use_env_settings = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and config.connection.verify is True:
            config.connection.verify = bundle
    serializer = getattr(client, "_serialize", None)
    if serializer is not None:
        serializer.client_side_validation = False
    return client


class PooledAuthentication(ConfigurationBotFrameworkAuthentication):
    """`ConfigurationBotFrameworkAuthentication` whose connector clients are kept and reused.

    One bot per process (one app id), so a client is known by its service URL and audience alone."""

    def __init__(self, configuration: Any, **kwargs: Any):
        super().__init__(configuration, **kwargs)
        self.clients: dict[tuple[str, str | None], Any] = {}
        self.token_clients: dict[str | None, UserTokenClient] = {}

    async def authenticate_request(self, *args: Any, **kwargs: Any) -> AuthenticateRequestResult:
        result = await super().authenticate_request(*args, **kwargs)
        if result.connector_factory is not None:
            result.connector_factory = ReusedConnectors(result.connector_factory, self.clients)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusedConnectors(super().create_connector_factory(claims_identity), self.clients)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
        if app_id is None:  # botbuilder's own lookup (`_BuiltinBotFrameworkAuthentication.get_app_id`)
            app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
        client = self.token_clients.get(app_id)
        if client is None:
            client = self.token_clients[app_id] = await super().create_user_token_client(claims_identity)
        return client
