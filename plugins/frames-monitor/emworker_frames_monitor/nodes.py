"""The records a scan keeps between scans (one :class:`DirNode` per directory), and their
JSON form: how a scan child sends the parent the records of its share (data only, checked
field by field on the way in, so a garbled answer is refused, never half-used)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, NamedTuple, Optional

__all__ = ["BadRecord", "DirNode", "Totals", "decode_node", "encode_node", "iter_nodes",
           "subtree_totals"]


class BadRecord(ValueError):
    """A record from a scan child that is not what :func:`encode_node` makes."""


class Totals(NamedTuple):
    """Aggregate of a set of files: count, movies, bytes and newest mtime (0.0 if none)."""

    files: int = 0
    movies: int = 0
    size: int = 0
    newest: float = 0.0


class DirNode:
    """What is remembered about one directory between scans (no per-file data)."""

    __slots__ = ("mtime_ns", "own", "children", "readable")

    def __init__(self, mtime_ns: int, own: Totals, children: Optional[Dict[str, Optional[DirNode]]],
                 readable: bool = True) -> None:
        self.mtime_ns = mtime_ns   # the directory's own st_mtime_ns when it was listed
        self.own = own             # files directly in it
        self.children = children   # subdirectory name -> node (None: not visited yet)
        self.readable = readable

    def is_hot(self, now: float, window: float) -> bool:
        """Changed recently (itself or a file in it): its files may still be growing."""
        return max(self.mtime_ns / 1e9, self.own.newest) >= now - window


def encode_node(node: Optional[DirNode]) -> Any:
    """``node`` and everything below it as JSON-able lists (None stays None)."""
    if node is None:
        return None
    children = None if node.children is None else \
        {name: encode_node(child) for name, child in node.children.items()}
    return [node.mtime_ns, *node.own, node.readable, children]


def _one_name(name: str) -> bool:
    # not guard.safe_name: the share's folders may be hidden or hold control characters,
    # and they are scanned all the same; only a name that is not one component is refused
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def decode_node(data: Any) -> Optional[DirNode]:
    """The inverse of :func:`encode_node`; :class:`BadRecord` on anything else."""
    if data is None:
        return None
    if not isinstance(data, list) or len(data) != 7:
        raise BadRecord(f"not a directory record: {str(data)[:80]}")
    mtime_ns, files, movies, size, newest, readable, children = data
    if not all(type(v) is int for v in (mtime_ns, files, movies, size)) \
            or type(newest) not in (int, float) or type(readable) is not bool:
        raise BadRecord(f"bad field in a directory record: {data[:6]}")
    if children is not None:
        if not isinstance(children, dict):
            raise BadRecord("bad subfolders in a directory record")
        bad = [name for name in children if not _one_name(name)]
        if bad:  # a rescan stats and lists these below their folder: one component each
            raise BadRecord(f"not a folder name in a directory record: {bad[0][:80]!r}")
        children = {name: decode_node(child) for name, child in children.items()}
    return DirNode(mtime_ns, Totals(files, movies, size, float(newest)), children, readable)


def subtree_totals(node: DirNode) -> Totals:
    files, movies, size, newest = node.own
    if node.children:
        for child in node.children.values():
            if child is None:
                continue
            sub = subtree_totals(child)
            files += sub.files
            movies += sub.movies
            size += sub.size
            if sub.newest > newest:
                newest = sub.newest
    return Totals(files, movies, size, newest)


def iter_nodes(children: Dict[str, Optional[DirNode]]) -> Iterator[DirNode]:
    for node in children.values():
        if node is not None:
            yield node
            if node.children:
                yield from iter_nodes(node.children)
