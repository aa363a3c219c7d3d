"""``TemplateRepository``: each WABA's templates as Meta last described them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.ports import TemplateRecord

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["TemplateRepository"]


class TemplateRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def load_templates(self, waba_id: str) -> list[TemplateRecord]:
        rows = await self._db.fetch(
            "SELECT waba_id, name, language, id, category, status, quality, parameter_format,"
            " components FROM templates WHERE waba_id = $1 ORDER BY name, language",
            waba_id,
        )
        return [
            TemplateRecord(
                waba_id=r["waba_id"],
                name=r["name"],
                language=r["language"],
                id=r["id"],
                category=r["category"],
                status=r["status"],
                quality=r["quality"],
                parameter_format=r["parameter_format"],
                components=tuple(r["components"] or ()),
            )
            for r in rows
        ]

    async def save_templates(self, records: Sequence[TemplateRecord]) -> None:
        await self._db.executemany(
            "INSERT INTO templates (waba_id, name, language, id, category, status, quality,"
            " parameter_format, components, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())"
            " ON CONFLICT (waba_id, name, language) DO UPDATE SET id = EXCLUDED.id,"
            " category = EXCLUDED.category, status = EXCLUDED.status,"
            " quality = EXCLUDED.quality, parameter_format = EXCLUDED.parameter_format,"
            " components = EXCLUDED.components, updated_at = now()",
            [
                (
                    t.waba_id,
                    t.name,
                    t.language,
                    t.id,
                    t.category,
                    t.status,
                    t.quality,
                    t.parameter_format,
                    [dict(c) for c in t.components],
                )
                for t in records
            ],
        )
