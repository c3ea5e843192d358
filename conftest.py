"""Test harnesses shared by the core's and the plugins' test suites."""

pytest_plugins = ["tests.harness.fixtures"]
