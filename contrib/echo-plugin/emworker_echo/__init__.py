"""An example emworker plugin: the task ``echo``."""
