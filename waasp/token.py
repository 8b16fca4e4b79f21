"""The admin API token kept in the data dir when WAASP_API_TOKEN is not set."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from waasp.errors import WaaspError

TOKEN_FILE_NAME = "api_token"


def token_path(data_dir: Path) -> Path:
    """Where the generated token lives."""
    return data_dir / TOKEN_FILE_NAME


def load_or_create_token(data_dir: Path) -> str:
    """Return the token stored in ``data_dir``, creating it (mode 0600) on first use."""
    return obtain_token(data_dir)[0]


def obtain_token(data_dir: Path) -> tuple[str, bool]:
    """Return (token, created_now), so a caller can print a new token exactly once."""
    path = token_path(data_dir)
    for _ in range(50):
        token = _read(path)
        if token:
            return token, False
        if token is None:
            created = _create(data_dir, path)
            if created is not None:
                return created, True
        # Another process has just created the file and not yet written it.
        time.sleep(0.02)
    raise WaaspError(f"the API token file {path} is empty; delete it or set WAASP_API_TOKEN")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise WaaspError(f"cannot read the API token file {path}: {exc}") from None


def _create(data_dir: Path, path: Path) -> str | None:
    token = secrets.token_urlsafe(32)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not each write a different token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        raise WaaspError(f"cannot create the API token file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token
