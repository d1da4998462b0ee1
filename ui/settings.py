"""Settings of the web app that are not in the chat config: admin login, queue, feedback file.

Each comes from the `ui` section of the config when it has the field, and the environment
overrides it: DESKMATE_ADMIN_USER, DESKMATE_ADMIN_PASSWORD, DESKMATE_CONCURRENCY,
DESKMATE_MAX_QUEUE, DESKMATE_FEEDBACK_DB. There is no default password: without one the
admin page is disabled.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

ENV = {
    "admin_user": "DESKMATE_ADMIN_USER",
    "admin_password": "DESKMATE_ADMIN_PASSWORD",
    "concurrency": "DESKMATE_CONCURRENCY",
    "max_queue": "DESKMATE_MAX_QUEUE",
    "feedback_db": "DESKMATE_FEEDBACK_DB",
}
ADMIN_DISABLED = (
    "The admin page is disabled because no admin password is configured. To enable it, set "
    "`DESKMATE_ADMIN_PASSWORD` (and optionally `DESKMATE_ADMIN_USER`, default `admin`) in the "
    "environment, or `admin_password` in the config file, and restart the app."
)


@dataclass
class UISettings:
    admin_user: str = "admin"
    admin_password: str = ""
    concurrency: int = 4  # answers worked on at once; the rest wait in the queue
    max_queue: int = 256  # requests waiting beyond this are told the app is busy
    feedback_db: str = ""  # empty: $DESKMATE_HOME/feedback.sqlite3

    @classmethod
    def load(cls, ui_config=None, environ=None) -> "UISettings":
        environ = os.environ if environ is None else environ
        settings = cls()
        for name, var in ENV.items():
            value = environ.get(var) or getattr(ui_config, name, None)
            if value not in (None, ""):
                setattr(settings, name, type(getattr(cls, name))(value))
        if settings.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {settings.concurrency}; set DESKMATE_CONCURRENCY.")
        return settings

    @property
    def admin_enabled(self) -> bool:
        return bool(self.admin_password)

    def check_login(self, user: str, password: str) -> bool:
        """Constant-time comparison; always False when no password is configured."""
        if not self.admin_enabled:
            return False
        same_user = hmac.compare_digest((user or "").encode(), self.admin_user.encode())
        same_password = hmac.compare_digest((password or "").encode(), self.admin_password.encode())
        return same_user and same_password
