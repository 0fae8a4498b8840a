"""In-memory spatial index of cloud stores: exact nearest by great-circle distance.

Each store becomes a point on the unit sphere (x, y, z). The straight-line
(chord) distance c between two such points relates to the great-circle
distance d by d = 2R asin(c / 2): strictly increasing, so ordering by chord is
ordering by great-circle distance, exactly, with no projection, date-line or
pole special cases.

The points live in a k-d tree with bucket leaves, each node holding its
bounding box. ``iter_nearest`` is a best-first search (Hjaltason & Samet): a
heap of nodes keyed by the squared distance to their box and of stores keyed
by their squared chord. Popping a store means no unseen store is nearer, so
stores come out in increasing distance and the router can stop as soon as it
has enough eligible ones. Pure Python (no numpy) so the index costs no
dependency; the bench compares it with scipy's cKDTree.

Live updates without a rebuild: an upsert that keeps the position only swaps
the snapshot; a move or a new store descends to a leaf, widening the boxes on
its path (an over-full leaf splits); a removal leaves the boxes loose, which
only costs a little pruning. After as many mutations as there are stores the
tree is rebuilt, keeping the amortised cost of an update low.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from itertools import count
from typing import NamedTuple, final
from uuid import UUID

from domain.geo import EARTH_MEAN_RADIUS_M
from domain.routing import StoreSnapshot

_INF = float("inf")


class Neighbour(NamedTuple):
    store: StoreSnapshot
    distance_m: float


def unit_vector(lat: float, lng: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lng)
    cp = math.cos(phi)
    return cp * math.cos(lam), cp * math.sin(lam), math.sin(phi)


def chord_to_metres(chord: float) -> float:
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, chord / 2.0))


def metres_to_chord(metres: float) -> float:
    if metres >= math.pi * EARTH_MEAN_RADIUS_M:
        return 2.0
    return 2.0 * math.sin(metres / (2.0 * EARTH_MEAN_RADIUS_M))


@final  # so that `type(obj) is _Entry` tells the type checker obj is a _Node otherwise
class _Entry:
    __slots__ = ("leaf", "store", "x", "y", "z")

    def __init__(self, store: StoreSnapshot) -> None:
        self.x, self.y, self.z = unit_vector(store.lat, store.lng)
        self.store = store
        self.leaf: _Node | None = None


class _Node:
    __slots__ = ("axis", "hi", "items", "left", "lo", "right", "split")

    def __init__(self) -> None:
        self.lo = [_INF, _INF, _INF]
        self.hi = [-_INF, -_INF, -_INF]
        self.axis = 0
        self.split = 0.0
        self.left: _Node | None = None
        self.right: _Node | None = None
        self.items: list[_Entry] | None = None  # set on leaves only


def _coord(e: _Entry, axis: int) -> float:
    return e.x if axis == 0 else e.y if axis == 1 else e.z


def _build(entries: list[_Entry], leaf_size: int, node: _Node | None = None) -> _Node:
    node = node or _Node()
    xs = [e.x for e in entries]
    ys = [e.y for e in entries]
    zs = [e.z for e in entries]
    node.lo = [min(xs), min(ys), min(zs)]
    node.hi = [max(xs), max(ys), max(zs)]
    if len(entries) <= leaf_size:
        node.items, node.left, node.right = entries, None, None
        for e in entries:
            e.leaf = node
        return node
    spreads = [node.hi[i] - node.lo[i] for i in range(3)]
    axis = spreads.index(max(spreads))
    entries.sort(key=lambda e: _coord(e, axis))
    mid = len(entries) // 2
    node.axis, node.split, node.items = axis, _coord(entries[mid], axis), None
    node.left = _build(entries[:mid], leaf_size)
    node.right = _build(entries[mid:], leaf_size)
    return node


class StoreIndex:
    """Stores by id, searchable by increasing great-circle distance from a point."""

    def __init__(self, stores: Iterable[StoreSnapshot] = (), *, leaf_size: int = 12) -> None:
        if leaf_size < 2:
            raise ValueError("leaf_size must be at least 2")
        self._leaf_size = leaf_size
        self._entries: dict[UUID, _Entry] = {}
        self._root: _Node | None = None
        self._mutations = 0
        self.rebuild(stores)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, store_id: object) -> bool:
        return store_id in self._entries

    def get(self, store_id: UUID) -> StoreSnapshot | None:
        e = self._entries.get(store_id)
        return e.store if e else None

    def stores(self) -> Iterator[StoreSnapshot]:
        return (e.store for e in self._entries.values())

    def rebuild(self, stores: Iterable[StoreSnapshot] | None = None) -> None:
        """Build a balanced tree from ``stores`` (or from the current contents); last duplicate wins."""
        if stores is not None:
            self._entries = {s.store_id: _Entry(s) for s in stores}
        entries = list(self._entries.values())
        self._root = _build(entries, self._leaf_size) if entries else None
        self._mutations = 0

    def upsert(self, store: StoreSnapshot) -> None:
        """Add or replace a store (opened, moved, suspended, dealer changed...)."""
        old = self._entries.get(store.store_id)
        if old is not None and (old.store.lat, old.store.lng) == (store.lat, store.lng):
            old.store = store
            return
        if old is not None:
            self._detach(old)
        entry = _Entry(store)
        self._entries[store.store_id] = entry
        self._insert(entry)
        self._note_mutation()

    def remove(self, store_id: UUID) -> bool:
        entry = self._entries.pop(store_id, None)
        if entry is None:
            return False
        self._detach(entry)
        self._note_mutation()
        return True

    def _detach(self, entry: _Entry) -> None:
        assert entry.leaf is not None and entry.leaf.items is not None
        entry.leaf.items.remove(entry)

    def _note_mutation(self) -> None:
        self._mutations += 1
        if self._mutations > max(1024, len(self._entries)):
            self.rebuild()

    def _insert(self, entry: _Entry) -> None:
        if self._root is None:
            self._root = _build([entry], self._leaf_size)
            return
        node = self._root
        point = (entry.x, entry.y, entry.z)
        while True:
            for i in range(3):
                if point[i] < node.lo[i]:
                    node.lo[i] = point[i]
                if point[i] > node.hi[i]:
                    node.hi[i] = point[i]
            if node.items is not None:
                break
            child = node.left if point[node.axis] < node.split else node.right
            assert child is not None  # a node without items is an inner node: it has both children
            node = child
        node.items.append(entry)
        entry.leaf = node
        if len(node.items) > 2 * self._leaf_size:
            _build(list(node.items), self._leaf_size, node)

    def iter_nearest(self, lat: float, lng: float, max_distance_m: float | None = None) -> Iterator[Neighbour]:
        """Stores in increasing distance from (lat, lng) (WGS-84), up to ``max_distance_m`` inclusive."""
        if self._root is None:
            return
        qx, qy, qz = unit_vector(lat, lng)
        limit = _INF if max_distance_m is None else metres_to_chord(max_distance_m) ** 2 * (1 + 1e-12)
        seq = count()
        push, pop = heapq.heappush, heapq.heappop
        heap: list[tuple[float, int, _Entry | _Node]] = [(_box_d2(self._root, qx, qy, qz), next(seq), self._root)]
        while heap:
            d2, _, obj = pop(heap)
            if d2 > limit:
                return
            if type(obj) is _Entry:
                yield Neighbour(obj.store, chord_to_metres(math.sqrt(d2)))
                continue
            node = obj  # not an _Entry (a final class): a _Node
            if node.items is not None:
                for e in node.items:
                    dx, dy, dz = e.x - qx, e.y - qy, e.z - qz
                    push(heap, (dx * dx + dy * dy + dz * dz, next(seq), e))
            else:
                for child in (node.left, node.right):
                    if child is not None:  # always, for an inner node
                        push(heap, (_box_d2(child, qx, qy, qz), next(seq), child))

    def nearest(
        self,
        lat: float,
        lng: float,
        k: int = 1,
        *,
        max_distance_m: float | None = None,
        where: Callable[[StoreSnapshot], bool] | None = None,
    ) -> list[Neighbour]:
        """The ``k`` nearest stores that satisfy ``where`` (all stores if None)."""
        out: list[Neighbour] = []
        if k <= 0:
            return out
        for n in self.iter_nearest(lat, lng, max_distance_m):
            if where is None or where(n.store):
                out.append(n)
                if len(out) == k:
                    break
        return out


def _box_d2(node: _Node, x: float, y: float, z: float) -> float:
    lo, hi = node.lo, node.hi
    d = 0.0
    if x < lo[0]:
        d += (lo[0] - x) ** 2
    elif x > hi[0]:
        d += (x - hi[0]) ** 2
    if y < lo[1]:
        d += (lo[1] - y) ** 2
    elif y > hi[1]:
        d += (y - hi[1]) ** 2
    if z < lo[2]:
        d += (lo[2] - z) ** 2
    elif z > hi[2]:
        d += (z - hi[2]) ** 2
    return d
