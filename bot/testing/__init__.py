"""Stand-ins for the far side of every protocol — the Slack Web API, the Bot Framework Connector and
the Anthropic Messages API — served over real HTTP on loopback. Used by the tests and by `coach bench`."""
