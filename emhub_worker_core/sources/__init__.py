"""Where tasks come from and where events go: the seam between the host and EMhub."""

from .base import TaskSource

__all__ = ["TaskSource"]
