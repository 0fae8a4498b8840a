"""The deployment files (deploy/) agree with the engine they deploy.

No container engine runs on the build machines, so the compose file and the systemd units are not started
here (the topology they describe is tested on loopback by tests/tenancy/). What can drift without anyone
noticing is checked instead: every variable they set is one the engine reads, the example configuration loads,
every ``loyalty`` command in them parses with the real command line, and every name the compose file refers to
(services, volumes, configs, the Dockerfile and what it copies) exists.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.cli import parser
from infrastructure.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CODE = (
    "\n".join(p.read_text() for p in [*(ROOT / "infrastructure").rglob("*.py"), *(ROOT / "application").rglob("*.py")])
    + (ROOT / "server.py").read_text()
)


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "loyalty.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def units() -> dict[str, list[tuple[str, str]]]:
    """Each systemd unit's ``Key=Value`` lines."""
    return {
        unit.name: [
            (key, value)
            for line in unit.read_text().splitlines()
            if "=" in line and not line.startswith("#")
            for key, _, value in [line.partition("=")]
        ]
        for unit in sorted((DEPLOY / "systemd").glob("*.service"))
    }


def dockerfile() -> list[tuple[str, str]]:
    return [
        (word.upper(), rest.strip())
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
        for word, _, rest in [line.strip().partition(" ")]
    ]


def variables() -> dict[str, str]:
    """Every environment variable a deployment file sets, with where."""
    found = {name: "loyalty.env.example" for name in env_example()}
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        if service.get("env_file"):  # the engine's services; the database images read their own variables
            found.update({key: f"compose.yaml: {name}" for key in environment})
    for unit, lines in units().items():
        for key, value in lines:
            if key == "Environment":
                found.update({pair.partition("=")[0]: unit for pair in shlex.split(value)})
    for word, rest in dockerfile():
        if word == "ENV":
            found.update({pair.partition("=")[0]: "Dockerfile" for pair in shlex.split(rest)})
    return found


def test_every_variable_the_deployment_sets_is_one_the_engine_reads() -> None:
    found = variables()
    assert {"DATABASE_URL", "DATABASE_REPLICA_URL", "LOYALTY_PROJECTIONS", "GRPC_ADDRESS"} <= found.keys()
    unread = {name: where for name, where in found.items() if f'"{name}"' not in CODE}
    assert not unread, f"set by the deployment but read nowhere (a typo, or a setting that went): {unread}"


def test_the_example_configuration_loads_with_the_replica_and_the_fleets_settings() -> None:
    env = env_example()
    settings = load_settings(env)
    assert settings.database_url and settings.replica_url and not settings.onboard_token_brands
    server = compose()["services"]["server"]
    assert not load_settings({**env, **server["environment"]}).projections  # the workers run them
    port = env["GRPC_ADDRESS"].rpartition(":")[2]
    assert server["ports"] == [port] and f"127.0.0.1:{port}" in " ".join(server["healthcheck"]["test"])


def loyalty_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for name, service in compose()["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["loyalty"]:
            commands.append((f"compose.yaml: {name}", command[1:]))
    for line in (DEPLOY / "compose.yaml").read_text().splitlines():  # the usage lines at the top
        if m := re.search(r"run --rm tools loyalty (.+)$", line):
            commands.append(("compose.yaml usage", shlex.split(m.group(1))))
    for unit, lines in units().items():
        for key, value in lines:
            words = shlex.split(value)
            if key == "ExecStart" and words[0].endswith("/loyalty"):
                commands.append((unit, words[1:]))
    return commands


def test_every_loyalty_command_in_the_deployment_parses() -> None:
    commands = loyalty_commands()
    assert {tuple(args[:1]) for _, args in commands} >= {("projections",), ("tenants",)}
    for where, args in commands:
        try:
            parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{where}: `loyalty {shlex.join(args)}` does not parse")


def test_every_name_the_compose_file_refers_to_exists() -> None:
    spec = compose()
    services, volumes, configs = spec["services"], spec.get("volumes", {}), spec.get("configs", {})
    for name, service in services.items():
        for target in service.get("depends_on") or {}:
            assert target in services, (name, target)
        for volume in service.get("volumes") or []:
            assert volume.partition(":")[0] in volumes, (name, volume)
        for config in service.get("configs") or []:
            assert config["source"] in configs, (name, config)
        if build := service.get("build"):
            context = (DEPLOY / build["context"]).resolve()
            assert context == ROOT and (context / build["dockerfile"]).is_file(), name
    assert {"primary", "replica", "server", "projections"} <= services.keys()


def test_the_image_copies_every_package_the_install_needs() -> None:
    copied = {rest.split()[0] for word, rest in dockerfile() if word == "COPY"}
    packages = re.search(r"include = \[([^]]*)\]", (ROOT / "pyproject.toml").read_text())
    assert packages is not None
    needed = {name.strip(' "*') for name in packages.group(1).split(",")} | {"server.py", "pyproject.toml"}
    assert needed <= copied, needed - copied
    assert all((ROOT / path).exists() for path in copied), copied
