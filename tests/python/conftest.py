import os

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")


@pytest.fixture
def landing_key(monkeypatch):
    """The landing tests' hash key (test_land.KEY) in YGT_HASH_KEY, and no key file: identifiers
    land keyed as test_land.expected_hmac works them out."""
    from test_land import KEY

    monkeypatch.setenv("YGT_HASH_KEY", KEY.decode())
    monkeypatch.delenv("YGT_HASH_KEY_FILE", raising=False)
