"""Regenerate the Python code for the API: ``python -m protos.generate``.

The proto root is ``protos/`` (``buf.yaml`` names it): package ``loyalty.v1`` lives in
``protos/loyalty/v1`` and its files import each other as ``loyalty/v1/*.proto``, the
layout buf's STANDARD lint rules and every language's tooling expect; a client in any
language compiles them with ``-I protos`` (the vendored google/rpc, google/api and
grpc/health protos are there too). In Python the generated modules live in the
``protos.loyalty.v1`` package, so their imports of each other are rewritten from
``loyalty.v1`` to ``protos.loyalty.v1``. The google/* and grpc/* modules come from
googleapis-common-protos and grpcio-health-checking, so only loyalty.v1 is generated.
Works from any current directory.
"""

from __future__ import annotations

import re
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PROTO_DIR = Path("protos/loyalty/v1")  # relative to ROOT: where the sources and the generated code live
PACKAGE_PATH = "loyalty/v1"  # relative to PROTO_ROOT: the import path of package loyalty.v1


def generate(out_dir: Path = ROOT) -> list[Path]:
    """Generate into ``out_dir / PROTO_DIR`` and return the generated files."""
    from grpc_tools import protoc

    sources = sorted(f"{PACKAGE_PATH}/{p.name}" for p in (PROTO_ROOT / PACKAGE_PATH).glob("*.proto"))
    well_known = str(files("grpc_tools") / "_proto")
    target = Path(out_dir) / PROTO_DIR
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        code = protoc.main(
            [
                "protoc",
                f"-I{PROTO_ROOT}",
                f"-I{well_known}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                *sources,
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed with exit code {code}")
        written = []
        for path in sorted((Path(tmp) / PACKAGE_PATH).glob("*_pb2*.py*")):
            text = re.sub(r"^from loyalty\.v1 import ", "from protos.loyalty.v1 import ", path.read_text(), flags=re.M)
            (target / path.name).write_text(text)
            written.append(target / path.name)
    return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(path)
