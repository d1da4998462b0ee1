"""The web app's `ui` settings with the environment over the config file, and the admin login check.

The settings are `assistant.config.UIConfig` (one definition, one default each); the
environment overrides the file: DESKMATE_ADMIN_USER, DESKMATE_ADMIN_PASSWORD,
DESKMATE_CONCURRENCY, DESKMATE_MAX_QUEUE, DESKMATE_API_KEY (DESKMATE_FEEDBACK_DB is read where the feedback
path is resolved, `assistant.feedback.default_path`). There is no default password:
without one the admin page is disabled.
"""

from __future__ import annotations

import dataclasses
import hmac
import os

from assistant.config import UIConfig
from assistant.errors import ConfigError

ENV = {
    "admin_user": "DESKMATE_ADMIN_USER",
    "admin_password": "DESKMATE_ADMIN_PASSWORD",
    "concurrency": "DESKMATE_CONCURRENCY",
    "max_queue": "DESKMATE_MAX_QUEUE",
    "api_key": "DESKMATE_API_KEY",
}
ADMIN_DISABLED = (
    "The admin page is disabled because no admin password is configured. To enable it, set "
    "`DESKMATE_ADMIN_PASSWORD` (and optionally `DESKMATE_ADMIN_USER`, default `admin`) in the "
    "environment, or `admin_password` in the config file, and restart the app."
)


def ui_settings(ui: UIConfig | None = None, environ=None) -> UIConfig:
    """A copy of `ui` (the defaults when None) with the environment's values over it."""
    environ = os.environ if environ is None else environ
    settings = dataclasses.replace(ui or UIConfig())
    for name, var in ENV.items():
        if environ.get(var):
            try:
                setattr(settings, name, type(getattr(settings, name))(environ[var]))
            except ValueError as exc:
                raise ConfigError(f"{var} is {environ[var]!r}; give a {type(getattr(settings, name)).__name__}.") from exc
    if settings.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {settings.concurrency}; set DESKMATE_CONCURRENCY.")
    return settings


def admin_enabled(ui: UIConfig) -> bool:
    return bool(ui.admin_password)


def check_login(ui: UIConfig, user: str, password: str) -> bool:
    """Constant-time comparison; always False when no password is configured."""
    if not admin_enabled(ui):
        return False
    same_user = hmac.compare_digest((user or "").encode(), ui.admin_user.encode())
    same_password = hmac.compare_digest((password or "").encode(), ui.admin_password.encode())
    return same_user and same_password
