"""Session fixtures for real servers (EMhub + Redis, Slurm). Filled in by their harnesses."""
