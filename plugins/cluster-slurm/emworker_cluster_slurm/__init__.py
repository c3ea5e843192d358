"""emworker plugin ``cluster-slurm``: Slurm's nodes and jobs as EMhub's Cluster Queues page reads them."""
