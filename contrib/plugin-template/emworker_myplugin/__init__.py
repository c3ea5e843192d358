"""An emworker plugin."""
