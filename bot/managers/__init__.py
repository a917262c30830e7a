"""Managers' side of coach: weekly nudges, their spacing, digests, opt-outs and who is who."""
