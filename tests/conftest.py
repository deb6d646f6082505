"""Shared pytest setup."""

pytest_plugins = ["tests.fakeserver"]
