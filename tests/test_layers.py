"""The layer rule of docs/development.md, enforced on every import of every file.

`policies/` decides, `synapse_module/` adapts those decisions to Synapse, `bot/`
talks to people over HTTP. Each may import only the layers below it, and only
the module may touch Synapse, and only through its public module API: anything
else breaks on a Synapse upgrade without a type error to warn us.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OURS = ("policies", "synapse_module", "bot", "devtools", "qunzu_cli", "bench", "docker", "tests")

# Network, process and database I/O: the pure core decides, it never fetches.
IO_MODULES = (
    "asyncio",
    "socket",
    "subprocess",
    "sqlite3",
    "psycopg2",
    "urllib.request",
    "http.client",
    "aiohttp",
    "aiosqlite",
    "requests",
    "apscheduler",
)
SYNAPSE = ("synapse", "twisted")
# The part of Synapse a module may use: ModuleApi and what it re-exports, the error classes and
# the identifier types (RoomAlias, UserID) its callbacks hand over. Twisted is the reactor they run on.
SYNAPSE_PUBLIC = ("synapse.module_api", "synapse.module_api.errors", "synapse.api.errors", "synapse.types", "twisted")


@dataclass(frozen=True)
class Layer:
    """What the files of one top-level package may import."""

    package: str
    may_import: tuple[str, ...]  # our packages it may import (itself always)
    forbidden: tuple[str, ...]  # outside modules it must not import (with their submodules)
    allowed_exceptions: tuple[str, ...] = ()  # submodules of a forbidden one that stay allowed


LAYERS = (
    Layer("policies", (), (*SYNAPSE, "nio", *IO_MODULES)),
    # synapse.handlers, synapse.storage, synapse.server & co. are Synapse's internals.
    Layer("synapse_module", ("policies",), ("synapse", "nio"), SYNAPSE_PUBLIC),
    Layer("bot", ("policies",), SYNAPSE),
    Layer("qunzu_cli", ("policies", "synapse_module"), (*SYNAPSE, "nio")),
    # Development tools start Synapse and the bot as processes; they never import them.
    Layer("devtools", ("policies",), ()),
    Layer("bench", ("policies", "devtools"), ()),
    # The container entrypoint renders configs in the Synapse image, where the project is installed:
    # it reads the policy (federation settings), nothing else of ours.
    Layer("docker", ("policies",), ()),
)


OUTSIDE = "<outside the project>"


@dataclass(frozen=True)
class Import:
    where: str  # file:line, relative to the project root
    module: str

    def __str__(self) -> str:
        return f"{self.where}: import {self.module}"


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every module `path` imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(root)
    parts = list(relative.with_suffix("").parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(f"{relative}:{node.lineno}", alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from ..x import y` in a/b/c.py is a.x; a level that climbs out of the package is a violation.
                base = parts[: len(parts) - node.level]
                module = ".".join([*base, *([node.module] if node.module else [])]) if base else OUTSIDE
                yield Import(f"{relative}:{node.lineno}", module)
            else:
                yield Import(f"{relative}:{node.lineno}", str(node.module))


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def violations(layer: Layer, root: Path = ROOT) -> list[str]:
    """Each import in `layer`'s files that the rule forbids, named with its file and line."""
    found = []
    allowed_ours = (layer.package, *layer.may_import)
    for path in sorted((root / layer.package).rglob("*.py")):
        for imported in imports_of(path, root):
            top = imported.module.split(".")[0]
            if imported.module == OUTSIDE:
                found.append(f"{imported} (a relative import climbs out of {layer.package})")
            elif top in OURS and top not in allowed_ours:
                found.append(f"{imported} ({layer.package} may import {', '.join(allowed_ours)} of ours)")
            elif _under(imported.module, layer.forbidden) and not _under(imported.module, layer.allowed_exceptions):
                found.append(f"{imported} ({layer.package} must not import {imported.module})")
    return found


# ModuleApi's private attributes that lead to Synapse's internals (the HomeServer, its stores).
PRIVATE_API = ("_hs", "_store", "_server_notices_manager", "_auth", "_auth_handler", "_clock")


def private_synapse_access(root: Path = ROOT) -> list[str]:
    """`api._hs` & co.: Synapse's internals reached through the ModuleApi object."""
    found = []
    for path in sorted((root / "synapse_module").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE_API and not _is_self(node.value):
                found.append(f"{path.relative_to(root)}:{node.lineno}: .{node.attr}")
    return found


def _is_self(node: ast.expr) -> bool:
    # Our own classes may name their attributes `self._clock`; the rule is about other objects' privates.
    return isinstance(node, ast.Name) and node.id == "self"


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.package)
def test_each_package_imports_only_the_layers_below_it(layer: Layer) -> None:
    assert (ROOT / layer.package).is_dir()
    assert violations(layer) == []


def test_the_module_never_reaches_into_synapse_internals_through_the_api_object() -> None:
    assert private_synapse_access() == []


def test_every_package_of_ours_has_a_layer() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} | {"docker"}
    assert packages - {"tests"} == {layer.package for layer in LAYERS}


def test_the_rule_finds_each_kind_of_violation_and_names_file_and_line(tmp_path: Path) -> None:
    """The checks are not vacuous: forbidden imports in a small fake project are all found."""
    layers = {layer.package: layer for layer in LAYERS}
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "rules.py").write_text(
        "import json\nfrom synapse_module import facts\nimport asyncio\nfrom .. import y\nimport bot.x\n"
    )
    (tmp_path / "synapse_module" / "store").mkdir(parents=True)
    (tmp_path / "synapse_module" / "store" / "groups.py").write_text(
        "from synapse.module_api import ModuleApi\n"
        "from synapse.handlers.room import RoomCreationHandler\n"
        "from synapse.storage.database import LoggingTransaction\n"
        "from ..facts import user\n"
        "from bot import client\n"
        "import twisted.internet.defer\n"
        "store = api._hs.get_datastores()\n"
        "self._clock = None\n"
    )
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "client.py").write_text(
        "from synapse.types import UserID\nimport nio\nfrom policies import x\n"
    )
    assert violations(layers["policies"], tmp_path) == [
        "policies/rules.py:2: import synapse_module (policies may import policies of ours)",
        "policies/rules.py:3: import asyncio (policies must not import asyncio)",
        "policies/rules.py:4: import <outside the project> (a relative import climbs out of policies)",
        "policies/rules.py:5: import bot.x (policies may import policies of ours)",
    ]
    assert violations(layers["synapse_module"], tmp_path) == [
        "synapse_module/store/groups.py:2: import synapse.handlers.room (synapse_module must not import"
        " synapse.handlers.room)",
        "synapse_module/store/groups.py:3: import synapse.storage.database (synapse_module must not import"
        " synapse.storage.database)",
        "synapse_module/store/groups.py:5: import bot (synapse_module may import synapse_module, policies of ours)",
    ]
    assert private_synapse_access(tmp_path) == ["synapse_module/store/groups.py:7: ._hs"]
    assert violations(layers["bot"], tmp_path) == [
        "bot/client.py:1: import synapse.types (bot must not import synapse.types)"
    ]


def module_import_loops(root: Path = ROOT, package: str = "synapse_module") -> list[list[str]]:
    """Files of `package` that import each other in a loop (type-checking imports count too).

    `__init__.py` files are left out: they only gather names for their package (the module's
    hands `QunzuModule` to Synapse's loader, `bot.handlers` registers the commands).
    """
    files = {
        ".".join(path.relative_to(root).with_suffix("").parts): path
        for path in sorted((root / package).rglob("*.py"))
        if path.name != "__init__.py"
    }
    edges: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        base = name.split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = ".".join([*base[: len(base) - node.level + 1], *([node.module] if node.module else [])])
                if not node.level:
                    target = str(node.module)
                named = [f"{target}.{alias.name}" for alias in node.names]
                edges[name].update(module for module in [target, *named] if module in files and module != name)
            elif isinstance(node, ast.Import):
                edges[name].update(alias.name for alias in node.names if alias.name in files)
    loops: list[list[str]] = []
    seen: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for imported in sorted(edges[name]):
            if imported in path:
                loop = path[path.index(imported) :]
                if not any(set(loop) == set(known) for known in loops):
                    loops.append(loop)
            elif imported not in seen:
                visit(imported, [*path, imported])
        seen.add(name)

    for name in files:
        if name not in seen:
            visit(name, [name])
    return loops


@pytest.mark.parametrize("package", ["synapse_module", "policies", "bot", "bench", "devtools", "qunzu_cli"])
def test_no_package_s_files_import_each_other_in_a_loop(package: str) -> None:
    """Services take their collaborators from a composition root (module.py, bot.py); none imports it back."""
    assert module_import_loops(package=package) == []


def test_the_loop_check_finds_a_loop_through_a_type_checking_import(tmp_path: Path) -> None:
    package = tmp_path / "synapse_module"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .module import QunzuModule\n")
    (package / "module.py").write_text("from .sub.service import Service\nclass QunzuModule: ...\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "service.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..module import QunzuModule\n"
    )
    (package / "leaf.py").write_text("from . import module\n")
    assert module_import_loops(tmp_path) == [["synapse_module.module", "synapse_module.sub.service"]]


# Where an HTTP error may be built: the one place refusals become one, the HTTP resources, and the
# adapters of Synapse's callbacks (whose contract is to raise one).
HTTP_ERROR_BUILDERS = ("synapse_module/refusals.py", "synapse_module/http/", "synapse_module/callbacks.py")
CALLBACK_BOUNDARIES = {"synapse_module/admin_guard.py": 1}  # check_event_allowed's fail-closed answer


def http_errors_built_by_services(root: Path = ROOT) -> dict[str, int]:
    """`SynapseError(...)` calls outside the places allowed to build one, by file."""
    found: dict[str, int] = {}
    for path in sorted((root / "synapse_module").rglob("*.py")):
        relative = str(path.relative_to(root))
        if relative.startswith(HTTP_ERROR_BUILDERS):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "SynapseError"
        ]
        if calls:
            found[relative] = len(calls)
    return found


def test_services_raise_their_own_errors_and_never_build_http_ones() -> None:
    """A service says what went wrong (errors.py); refusals.py alone says how a client sees it."""
    assert http_errors_built_by_services() == CALLBACK_BOUNDARIES


def test_the_error_check_finds_a_service_that_builds_an_http_error(tmp_path: Path) -> None:
    (tmp_path / "synapse_module" / "http").mkdir(parents=True)
    (tmp_path / "synapse_module" / "tickets.py").write_text("def f():\n    raise SynapseError(404, 'x')\n")
    (tmp_path / "synapse_module" / "http" / "routes.py").write_text("def f():\n    raise SynapseError(404, 'x')\n")
    assert http_errors_built_by_services(tmp_path) == {"synapse_module/tickets.py": 1}


# Synapse's own tables the module reads (store/synapse_tables.py names each with its columns).
SYNAPSE_TABLES = (
    "current_state_events",
    "local_current_membership",
    "room_aliases",
    "events",
    "event_json",
    "rejections",
    "rooms",
    "event_reports",
    "room_reports",
    "user_reports",
    "users",
    "room_memberships",
    "state_events",
    "user_ips",
    "access_tokens",
    "profiles",
)
SYNAPSE_TABLE_READER = "synapse_module/store/synapse_tables.py"
_SQL_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_]+)")  # SQL keywords are written in capitals


def synapse_tables_named_outside_the_reader(root: Path = ROOT) -> list[str]:
    """`file:line: table` for each string of SQL outside synapse_tables.py that names a Synapse table."""
    found = []
    for path in sorted((root / "synapse_module").rglob("*.py")):
        relative = str(path.relative_to(root))
        if relative == SYNAPSE_TABLE_READER:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in _SQL_TABLE.findall(node.value):
                    if table in SYNAPSE_TABLES:
                        found.append(f"{relative}:{node.lineno}: {table}")
    return found


def test_only_one_file_reads_synapse_s_own_tables() -> None:
    """Synapse's tables are not a stable API: an upgrade that changes them is found in one file."""
    assert synapse_tables_named_outside_the_reader() == []


def test_the_table_check_finds_a_store_reading_synapse_s_events(tmp_path: Path) -> None:
    (tmp_path / "synapse_module" / "store").mkdir(parents=True)
    (tmp_path / "synapse_module" / "store" / "logs.py").write_text(
        'SQL = "SELECT e.event_id FROM events AS e JOIN qunzu_netlog AS n ON n.id = e.event_id"\n'
    )
    (tmp_path / "synapse_module" / "store" / "synapse_tables.py").write_text('SQL = "SELECT 1 FROM events"\n')
    assert synapse_tables_named_outside_the_reader(tmp_path) == ["synapse_module/store/logs.py:1: events"]
