"""Settings: .env.example documents exactly the Settings fields; prod refuses placeholder secrets."""
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.core.config import Settings


def _env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(field.validation_alias if isinstance(field.validation_alias, str) else f"RENUM_{name.upper()}")
    return names


def test_env_example_lists_exactly_the_settings_fields():
    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert listed == _env_names(), {"missing": _env_names() - listed, "unknown": listed - _env_names()}


def test_prod_refuses_placeholder_secrets(monkeypatch):
    monkeypatch.setenv("RENUM_ENV", "prod")
    with pytest.raises(ValidationError, match="placeholder secrets"):
        Settings()
    monkeypatch.setenv("RENUM_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("RENUM_API_KEY_PEPPER", "p" * 40)
    monkeypatch.setenv("RENUM_WEBHOOK_SIGNING_SECRET", "w" * 40)
    with pytest.raises(ValidationError, match="RENUM_SECRET_KEYS is required"):
        Settings()
    from api.core.secretbox import new_key
    monkeypatch.setenv("RENUM_SECRET_KEYS", f"k1:{new_key()}")
    assert Settings().env == "prod"
