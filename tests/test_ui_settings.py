"""Admin login settings: no default password, environment over config, constant-time check."""

from types import SimpleNamespace

import pytest

from ui.settings import ADMIN_DISABLED, UISettings


def test_without_a_password_the_admin_is_disabled_and_no_login_succeeds():
    settings = UISettings.load(environ={})
    assert not settings.admin_enabled
    assert not settings.check_login("admin", "")
    assert not settings.check_login("admin", "admin")
    assert "DESKMATE_ADMIN_PASSWORD" in ADMIN_DISABLED


def test_environment_overrides_the_config_file():
    config = SimpleNamespace(admin_user="boss", admin_password="from-file", concurrency=3)
    settings = UISettings.load(config, environ={"DESKMATE_ADMIN_PASSWORD": "from-env", "DESKMATE_CONCURRENCY": "6"})
    assert settings.admin_user == "boss" and settings.concurrency == 6
    assert settings.check_login("boss", "from-env")
    assert not settings.check_login("boss", "from-file") and not settings.check_login("admin", "from-env")


def test_concurrency_below_one_is_refused_with_the_setting_to_change():
    with pytest.raises(ValueError, match="DESKMATE_CONCURRENCY"):
        UISettings.load(environ={"DESKMATE_CONCURRENCY": "0"})
