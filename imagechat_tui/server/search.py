"""Full-text search over comment text: one small interface, one implementation per database.

Both keep their index inside the database, in step with every insert, edit and deletion of a
comment whatever statement makes it (a bulk delete of an image included): SQLite by triggers
feeding a contentless FTS5 table, PostgreSQL by a generated `tsvector` column under a GIN index.
Neither ever sees the caller's query syntax: the text is cut into words here, and each word is
matched as itself (FTS5: a quoted string; PostgreSQL: `plainto_tsquery`), all words required.
"""

from __future__ import annotations

import re
from typing import Protocol

from sqlalchemy import ColumnElement, Connection, bindparam, column, exists, func, select, table, text

from .schema import comments, markers

COMMON = 20_000
"""Matching comments from which SQLite looks image by image rather than gather them all (measured
with bench/inbox.py: gathering costs ~15 µs a match, a look at one image up to ~400 µs)."""
MAX_TERMS = 16
"""Words of a query looked up; the rest are ignored (each one costs an index lookup)."""
_WORD = re.compile(r"\w+")


def search_terms(query: str) -> list[str]:
    """The words of a search, lower-cased, as both databases' tokenisers cut them (letters and
    digits; everything else separates): punctuation is never syntax, only a separator."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_TERMS]


class Search(Protocol):
    def install(self, conn: Connection) -> None:
        """Create the index and what keeps it, and index the comments already there."""

    def matching(self, conn: Connection, terms: list[str], image_id: ColumnElement[int]) -> ColumnElement[bool]:
        """A condition on `image_id`: the image has a comment holding every one of `terms` (given
        non-empty). `conn` may be asked how common the words are, to choose how to look."""


class SqliteSearch:
    """A contentless FTS5 table (the text is kept once, in `comments`) whose rowid is a small
    integer per comment, from `comment_docs`: comments have string ids, and SQLite's own rowid of a
    table without an INTEGER PRIMARY KEY may change on VACUUM. `comment_docs` also holds the
    comment's image, so that a match costs one lookup by integer instead of two by string (kept
    if a marker ever moves to another image). A contentless table forgets a row only when told its
    old text too, which triggers on `comments` have (`old.text`)."""

    _docs = table("comment_docs", column("doc"), column("image_id"))
    _text = table("comment_text", column("rowid"))

    def install(self, conn: Connection) -> None:
        for statement in _SQLITE_DDL:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "INSERT INTO comment_docs(comment_id, image_id) "
            "SELECT c.id, m.image_id FROM comments c JOIN markers m ON m.id = c.marker_id"
        )
        conn.exec_driver_sql(
            "INSERT INTO comment_text(rowid, text) "
            "SELECT d.doc, c.text FROM comment_docs d JOIN comments c ON c.id = d.comment_id"
        )
        for statement in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(statement)

    def matching(self, conn: Connection, terms: list[str], image_id: ColumnElement[int]) -> ColumnElement[bool]:
        """Usually the set of matching images, made once: it costs a lookup per matching comment.
        For words in very many comments (like "the") that is too many, and nearly every image has
        one: each image, in the inbox's order, is then asked whether one of its comments matches,
        until a page is full (FTS5 answers a MATCH with a rowid in one seek)."""
        # Each word a string (quotes doubled, though \w+ has none): FTS5 reads no operator in it.
        match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
        matched = text("comment_text MATCH :b_match").bindparams(b_match=match)
        docs = select(self._text.c.rowid).where(matched)
        common = conn.execute(select(func.count()).select_from(docs.limit(COMMON).subquery())).scalar_one()
        if common < COMMON:
            return image_id.in_(select(self._docs.c.image_id).where(self._docs.c.doc.in_(docs)))
        doc_matches = docs.where(self._text.c.rowid == self._docs.c.doc)
        return exists(select(self._docs.c.doc).where(self._docs.c.image_id == image_id, exists(doc_matches)))


_SQLITE_DDL = (
    "CREATE TABLE comment_docs (doc INTEGER PRIMARY KEY, comment_id VARCHAR(40) NOT NULL UNIQUE, "
    "image_id INTEGER NOT NULL)",
    "CREATE INDEX comment_docs_image ON comment_docs (image_id)",
    "CREATE VIRTUAL TABLE comment_text USING fts5(text, content='')",
)
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER comment_text_insert AFTER INSERT ON comments BEGIN
        INSERT INTO comment_docs(comment_id, image_id) SELECT new.id, image_id FROM markers WHERE id = new.marker_id;
        INSERT INTO comment_text(rowid, text) VALUES (last_insert_rowid(), new.text);
    END""",
    """CREATE TRIGGER comment_text_update AFTER UPDATE OF text ON comments BEGIN
        INSERT INTO comment_text(comment_text, rowid, text)
            SELECT 'delete', doc, old.text FROM comment_docs WHERE comment_id = old.id;
        INSERT INTO comment_text(rowid, text) SELECT doc, new.text FROM comment_docs WHERE comment_id = old.id;
    END""",
    """CREATE TRIGGER comment_text_delete AFTER DELETE ON comments BEGIN
        INSERT INTO comment_text(comment_text, rowid, text)
            SELECT 'delete', doc, old.text FROM comment_docs WHERE comment_id = old.id;
        DELETE FROM comment_docs WHERE comment_id = old.id;
    END""",
    """CREATE TRIGGER comment_docs_image AFTER UPDATE OF image_id ON markers BEGIN
        UPDATE comment_docs SET image_id = new.image_id
            WHERE comment_id IN (SELECT id FROM comments WHERE marker_id = new.id);
    END""",
)


class PostgresSearch:
    """A stored generated column (PostgreSQL keeps it on every insert and update) with the
    'simple' configuration: no stemming and no stop words, like FTS5's default tokeniser, so
    both databases find the same comments for the same words."""

    def install(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "ALTER TABLE comments ADD COLUMN search tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED"
        )
        conn.exec_driver_sql("CREATE INDEX comments_search ON comments USING gin (search)")

    def matching(self, conn: Connection, terms: list[str], image_id: ColumnElement[int]) -> ColumnElement[bool]:
        matches = text("comments.search @@ plainto_tsquery('simple'::regconfig, :b_words)").bindparams(
            bindparam("b_words", " ".join(terms))
        )
        return image_id.in_(
            select(markers.c.image_id).join(comments, comments.c.marker_id == markers.c.id).where(matches))


def search_for(dialect: str) -> Search:
    return SqliteSearch() if dialect == "sqlite" else PostgresSearch()

