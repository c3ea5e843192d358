"""Test fixture: three plugins with misbehaving ``emworker_worker_specs`` hooks."""
