"""Where the store's URL comes from: DATABASE_URL, then .streamlit/secrets.toml, then the
SQLite file data/crm.db."""

from __future__ import annotations

from crm_core.store import engine


def test_environment_wins_over_secrets(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('DATABASE_URL = "postgresql://from-secrets/crm"\n', encoding="utf-8")
    monkeypatch.setattr(engine, "SECRETS_PATH", secrets)
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-env/crm")
    assert engine.database_url() == "postgresql://from-env/crm"


def test_secrets_file_is_used_without_environment(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('DATABASE_URL = "postgresql://from-secrets/crm"\n', encoding="utf-8")
    monkeypatch.setattr(engine, "SECRETS_PATH", secrets)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert engine.database_url() == "postgresql://from-secrets/crm"


def test_default_is_the_sqlite_file_under_data(monkeypatch, tmp_path):
    monkeypatch.setattr(engine, "SECRETS_PATH", tmp_path / "absent.toml")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert engine.database_url() == f"sqlite:///{engine.PROJECT_ROOT / 'data' / 'crm.db'}"


def test_postgres_spellings_use_the_psycopg3_driver():
    for url in ("postgres://u@h/d", "postgresql://u@h/d", "postgresql+psycopg2://u@h/d"):
        assert engine.normalise_url(url) == "postgresql+psycopg://u@h/d"
    assert engine.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_engine_turns_on_wal_and_foreign_keys(tmp_path):
    store = engine.make_engine(f"sqlite:///{tmp_path / 'nested' / 'crm.db'}")
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == engine.SQLITE_BUSY_TIMEOUT_MS
    store.dispose()
