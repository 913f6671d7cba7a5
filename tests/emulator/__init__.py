"""Loopback emulators of the provider APIs, one package per API (real HTTP servers on 127.0.0.1)."""
