"""The real-server fixtures come from the emworker-testkit distribution (testkit/), a pytest
plugin that scripts/test.sh installs: the core's tests and every plugin's reach them alike."""
