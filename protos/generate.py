"""Regenerate the Python code for the API: ``python -m protos.generate``.

Run from the repository root. The import root is the repository itself, so the
generated modules import each other as ``protos.loyalty.v1.*_pb2`` and a client
in any language compiles the same files with ``-I <repository root>``.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = Path("protos/loyalty/v1")


def generate(out_dir: Path = ROOT) -> list[Path]:
    from grpc_tools import protoc

    sources = sorted(str(p) for p in PROTO_DIR.glob("*.proto"))
    well_known = str(files("grpc_tools") / "_proto")
    code = protoc.main(
        ["protoc", "-I.", f"-I{well_known}", f"--python_out={out_dir}",
         f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *sources]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted((out_dir / PROTO_DIR).glob("*_pb2*.py*"))


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(path)
