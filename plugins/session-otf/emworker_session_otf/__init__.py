"""The ``session-otf`` plugin: on-the-fly processing handed to the site's scheduler."""

__all__: list[str] = []
