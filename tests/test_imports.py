"""The shape of the package: no import cycles, and views never import views.

The graph is read from the source (every ``import``, also those inside a
function: a lazy import that dodges a cycle at start-up is still one). Importing
``hezo.staff.queries`` runs ``hezo/staff/__init__.py`` too, which imports the
staff views: so an import reaches each package above the module it names,
except the importer's own packages (a blueprint's ``views`` imports ``bp`` from
its ``__init__``, which has already begun).
"""

import ast
from pathlib import Path

import hezo


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package at ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict) -> set[str]:
    """The package's modules that the module ``name`` imports by name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*above, base] if base else above)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in known else base)
    result = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target:
            result.add(target)
    return result


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(direct imports, what each import also runs) per module of ``root``."""
    known = modules(root)
    direct = {name: imported(name, path, known) for name, path in known.items()}
    runs = {}
    for name, targets in direct.items():
        runs[name] = set()
        for target in targets:
            parts = target.split(".")
            for n in range(1, len(parts) + 1):
                above = ".".join(parts[:n])
                if above in known and not (name + ".").startswith(above + "."):
                    runs[name].add(above)
    return direct, runs


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path (first module repeated at the end) per cycle found."""
    found, done = [], set()

    def walk(node, path, on_path):
        for target in sorted(graph[node]):
            if target in on_path:
                found.append(path[path.index(target) :] + [target])
            elif target not in done:
                on_path.add(target)
                walk(target, [*path, target], on_path)
                on_path.discard(target)
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            walk(start, [start], {start})
    return found


def views_importing_views(direct: dict[str, set[str]]) -> list[tuple[str, str]]:
    def is_views(name):
        return name.rpartition(".")[2] == "views"

    return sorted(
        (name, target)
        for name, targets in direct.items()
        if is_views(name)
        for target in targets
        if is_views(target) and target != name
    )


PACKAGE = Path(hezo.__file__).parent


def test_hezo_has_no_import_cycle():
    assert cycles(import_graph(PACKAGE)[1]) == []


def test_no_views_module_imports_another():
    assert views_importing_views(import_graph(PACKAGE)[0]) == []


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "app"


BLUEPRINT = "bp = object()\nfrom . import views\n"


def test_a_lazy_import_through_a_package_is_a_cycle(tmp_path):
    # The shape that issue 15 removed: cases' page asked staff for its panel
    # inside a function, and staff's views import cases' views.
    root = write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cases/__init__.py": BLUEPRINT,
            "app/cases/views.py": "from . import bp\n"
            "def page():\n    from ..staff.forms import PanelForm\n",
            "app/staff/__init__.py": BLUEPRINT,
            "app/staff/forms.py": "",
            "app/staff/views.py": "from . import bp\nfrom ..cases.views import page\n",
        },
    )
    direct, runs = import_graph(root)
    assert any({"app.cases.views", "app.staff.views"} <= set(c) for c in cycles(runs))
    assert views_importing_views(direct) == [("app.staff.views", "app.cases.views")]


def test_a_blueprint_importing_its_own_package_is_no_cycle(tmp_path):
    root = write(
        tmp_path,
        {
            "app/__init__.py": "def create():\n    from . import cases\n",
            "app/cases/__init__.py": BLUEPRINT,
            "app/cases/views.py": "from . import bp\nfrom .. import db\n"
            "from .pages import page\n",
            "app/cases/pages.py": "from ..db import x\n",
            "app/db.py": "x = 1\n",
            "app/staff/__init__.py": BLUEPRINT,
            "app/staff/views.py": "from . import bp\nfrom ..cases.pages import page\n",
        },
    )
    direct, runs = import_graph(root)
    assert cycles(runs) == []
    assert views_importing_views(direct) == []
    assert "app.cases" in runs["app.staff.views"]  # the package it imports from
