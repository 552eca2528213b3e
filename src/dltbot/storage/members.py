"""Lists that come from lists of lists: who joined, who left, the names they are known by."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .base import Connection


class MemberStore(Connection):
    """The lists a list of lists brings (lists.meta), kept across its versions."""

    def list_names(self) -> set[str]:
        """Return every list's name, casefolded (a new name must differ from all of them)."""
        return {row[0].casefold() for row in self.db.execute("SELECT name FROM lists")}

    def member_names(self) -> dict[str, str]:
        """Return, for every repository a list of lists ever brought (casefolded), its
        list's name: a repository that leaves and comes back keeps its name and history."""
        rows = self.db.execute("SELECT name, repo FROM lists WHERE meta IS NOT NULL")
        return {repo.casefold(): name for name, repo in rows}

    def members(self) -> list[tuple[str, str, str]]:
        """Return (name, repo, list of lists) of every list followed because one links it."""
        rows = self.db.execute(
            "SELECT name, repo, meta FROM lists WHERE meta IS NOT NULL AND left_at IS NULL "
            "ORDER BY id"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def set_members(
        self, meta: str, follow: Sequence[tuple[str, str]], linked: int, now: str
    ) -> tuple[list[str], list[str]]:
        """Make `follow` ((name, repo) pairs) the lists `meta` brings, in one transaction;
        return the names that joined and those that left. A name held by a configured list
        or by another list of lists' member is left to it."""
        joined, left = [], []
        with self.atomic():
            rows = self.db.execute(
                "SELECT name, meta, left_at FROM lists WHERE name IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps([name for name, _ in follow]),),
            ).fetchall()
            existing = {row[0]: (row[1], row[2]) for row in rows}
            wanted = set()
            for name, repo in follow:
                if name in existing:
                    owner, left_at = existing[name]
                    if owner is None or (owner != meta and left_at is None):
                        continue  # configured, or another list of lists' member
                    self.db.execute(
                        "UPDATE lists SET repo = ?, meta = ?, left_at = NULL WHERE name = ?",
                        (repo, meta, name),
                    )
                    if owner != meta or left_at is not None:
                        joined.append(name)
                else:
                    self.db.execute(
                        "INSERT INTO lists (name, repo, created_at, meta) VALUES (?, ?, ?, ?)",
                        (name, repo, now, meta),
                    )
                    joined.append(name)
                wanted.add(name)
            current = self.db.execute(
                "SELECT name FROM lists WHERE meta = ? AND left_at IS NULL", (meta,)
            ).fetchall()
            for (name,) in current:
                if name not in wanted:
                    self.db.execute("UPDATE lists SET left_at = ? WHERE name = ?", (now, name))
                    left.append(name)
            self.db.execute("UPDATE lists SET linked = ? WHERE name = ?", (linked, meta))
        return joined, left
