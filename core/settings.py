"""One validated settings object; every knob has an embedded default."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOWER_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///tower.db",
        description="SQLite file by default; a postgresql+psycopg:// URL scales out.",
    )


def get_settings() -> Settings:
    return Settings()
