import pytest

from hezo import ConfigurationError, create_app


def test_production_without_secret_key_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("HEZO_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="HEZO_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_environment_configures_database_and_secret(monkeypatch, tmp_path):
    path = tmp_path / "from-env.db"
    monkeypatch.setenv("HEZO_SECRET_KEY", "s" * 64)
    monkeypatch.setenv("HEZO_TOTP_ENCRYPTION_KEY", "t" * 64)
    monkeypatch.setenv("HEZO_DATABASE_URL", f"sqlite:///{path}")
    app = create_app()
    assert app.config["SECRET_KEY"] == "s" * 64
    assert app.config["DATABASE_URL"].endswith("from-env.db")


def test_missing_pdf_font_is_a_clear_startup_error(tmp_path):
    with pytest.raises(ConfigurationError, match="fonts-dejavu-core"):
        create_app(
            {
                "TESTING": True,
                "PDF_FONT_PATH": str(tmp_path / "none.ttf"),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )


def test_health_endpoint_answers(client):
    assert client.get("/healthz").json == {"status": "ok"}
