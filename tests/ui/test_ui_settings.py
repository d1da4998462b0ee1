"""Admin login settings: no default password, environment over config, constant-time check."""

import pytest

from assistant.config import UIConfig
from assistant.errors import ConfigError
from assistant.feedback import default_path
from ui.settings import ADMIN_DISABLED, admin_enabled, check_login, ui_settings


def test_without_a_password_the_admin_is_disabled_and_no_login_succeeds():
    settings = ui_settings(environ={})
    assert not admin_enabled(settings)
    assert not check_login(settings, "admin", "")
    assert not check_login(settings, "admin", "admin")
    assert "DESKMATE_ADMIN_PASSWORD" in ADMIN_DISABLED


def test_environment_overrides_the_config_file():
    config = UIConfig(admin_user="boss", admin_password="from-file", concurrency=3)
    settings = ui_settings(config, environ={"DESKMATE_ADMIN_PASSWORD": "from-env", "DESKMATE_CONCURRENCY": "6"})
    assert settings.admin_user == "boss" and settings.concurrency == 6 and config.concurrency == 3
    assert check_login(settings, "boss", "from-env")
    assert not check_login(settings, "boss", "from-file") and not check_login(settings, "admin", "from-env")


def test_concurrency_below_one_is_refused_with_the_setting_to_change():
    with pytest.raises(ConfigError, match="DESKMATE_CONCURRENCY"):
        ui_settings(environ={"DESKMATE_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="DESKMATE_MAX_QUEUE"):
        ui_settings(environ={"DESKMATE_MAX_QUEUE": "many"})


def test_the_feedback_database_path_has_one_owner(monkeypatch, tmp_path):
    monkeypatch.delenv("DESKMATE_FEEDBACK_DB", raising=False)
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path))
    assert default_path() == tmp_path / "feedback.sqlite3"
    assert default_path("x/feedback.db").as_posix() == "x/feedback.db"
    monkeypatch.setenv("DESKMATE_FEEDBACK_DB", str(tmp_path / "env.db"))
    assert default_path("x/feedback.db") == tmp_path / "env.db"  # the environment over the file
