"""emworker plugin ``cluster-slurm``: Slurm nodes and jobs for EMhub's Cluster Queues page."""
