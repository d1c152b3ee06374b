"""The app reads its templates, static files and catalogues from the package and
writes only into the instance folder, which is configurable and never inside
the package (scripts/test-install checks the same on the installed wheel)."""

import re
from pathlib import Path

import pytest

import hezo
from hezo import ConfigurationError, create_app

from .conftest import TEST_CONFIG

PACKAGE = Path(hezo.__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def test_templates_static_and_catalogues_are_package_data(tmp_path):
    app = create_app(TEST_CONFIG, instance_path=tmp_path)
    assert Path(app.root_path) == PACKAGE
    assert Path(app.static_folder) == PACKAGE / "static"
    assert (PACKAGE / "static/vendor/htmx.min.js").is_file()
    assert (PACKAGE / "templates/base.html").is_file()
    assert (PACKAGE / "translations/pl/LC_MESSAGES/messages.mo").is_file()
    for old in ("templates", "static", "translations"):
        assert not (CHECKOUT / old).exists(), f"{old}/ is outside the package again"


def test_the_instance_path_holds_the_default_database_uploads_and_mail(tmp_path):
    config = {
        k: v
        for k, v in TEST_CONFIG.items()
        if k not in ("DATABASE_URL", "UPLOAD_FOLDER", "OUTBOX_FILE_FOLDER")
    }
    app = create_app(config, instance_path=tmp_path / "inst")
    assert app.instance_path == str(tmp_path / "inst")
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst/hezo.db'}"
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "inst/uploads")
    assert app.config["OUTBOX_FILE_FOLDER"] == str(tmp_path / "inst/mail")


def test_hezo_instance_path_sets_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HEZO_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    app = create_app(TEST_CONFIG | {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.instance_path == str(tmp_path / "elsewhere")


def test_from_a_checkout_the_default_is_its_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("HEZO_INSTANCE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    app = create_app(TEST_CONFIG | {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.instance_path == str(CHECKOUT / "instance")


def test_an_instance_path_inside_the_package_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="HEZO_INSTANCE_PATH"):
        create_app(TEST_CONFIG, instance_path=PACKAGE / "instance")


def layout_table() -> list[list[str]]:
    """The paths named in each row of README's layout table (first column)."""
    readme = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.findall(r"`([^`]+)`", row.split(" | ")[0]) for row in rows]


def test_readme_layout_table_names_only_paths_that_exist():
    for names in layout_table():
        # A bare name continues the folder of the row's first path.
        base = CHECKOUT / Path(names[0]).parent
        for name in names:
            if name == "instance/":  # not committed; made by scripts/setup
                continue
            assert (CHECKOUT / name).exists() or (base / name).exists(), name


def test_readme_layout_table_names_every_folder_and_module_of_hezo():
    named = set()
    for names in layout_table():
        base = Path(names[0]).parent
        named |= {str(Path(n)) for n in names} | {str(base / n) for n in names}
    inside = [
        path.relative_to(CHECKOUT)
        for path in PACKAGE.iterdir()
        if (path.is_dir() and path.name != "__pycache__")
        or (path.suffix == ".py" and path.name != "__init__.py")
    ]
    top = [
        Path(p.name)
        for p in CHECKOUT.iterdir()
        if p.is_dir() and p.name in ("bench", "scripts", "tests")
    ]
    missing = sorted(str(p) for p in inside + top if str(p) not in named)
    assert missing == [], f"not in README's layout table: {missing}"
