"""Every loyalty.v1 proto module, found on disk: a new .proto file is covered by the contract and README tests
without a list to extend in each of them."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

V1 = Path(__file__).resolve().parents[1] / "protos" / "loyalty" / "v1"
MODULES: tuple[ModuleType, ...] = tuple(
    importlib.import_module(f"protos.loyalty.v1.{path.stem}") for path in sorted(V1.glob("*_pb2.py"))
)
