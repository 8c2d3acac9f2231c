"""The SQL view the web view opens on: one compact row per article, no body text.

`article_list` is plain SQL (built-in JSON functions only), so any SQLite client can
read it; talentwatch.web.plugin renders its cells (title links, topics and offers in
words). It is (re)created by `talentwatch serve` before Datasette opens the archive
read-only; a changed definition replaces the old one.
"""

from __future__ import annotations

import sqlite_utils

VIEW_NAME = "article_list"

# a JSON column's value when it is valid JSON of the right kind, else the empty value
_ARRAY = "CASE WHEN json_valid({c}) AND json_type({c}) = 'array' THEN {c} ELSE '[]' END"
# (json_extract of a key from valid JSON that is not an object is NULL, not an error)
_OBJECT = "CASE WHEN json_valid({c}) THEN {c} END"

# published as China time: a stored offset (or Z) is converted; a date, or a time
# without a zone, is China time already (see storage.schema)
_CHINA_TIME = """CASE
      WHEN a.published GLOB '*T*[+-][0-9][0-9]:[0-9][0-9]' OR a.published GLOB '*T*Z'
        THEN coalesce(strftime('%Y-%m-%d %H:%M', a.published, '+8 hours'), a.published)
      WHEN length(a.published) > 10
        THEN coalesce(strftime('%Y-%m-%d %H:%M', a.published), a.published)
      ELSE a.published END"""

VIEW_SQL = f"""CREATE VIEW {VIEW_NAME} AS
SELECT a.id,
       a.title,
       a.url,
       {_CHINA_TIME} AS published,
       a.site,
       json_extract({_OBJECT.format(c='a.region')}, '$.province') AS province,
       json_extract({_OBJECT.format(c='a.region')}, '$.city') AS city,
       json_extract({_OBJECT.format(c='a.region')}, '$.county') AS county,
       {_ARRAY.format(c='a.topics')} AS topics,
       {_ARRAY.format(c='a.incentives')} AS offers,
       (SELECT json_group_array(DISTINCT json_extract(i.value, '$.type'))
          FROM json_each({_ARRAY.format(c='a.incentives')}) AS i
          WHERE json_type(i.value) = 'object' AND json_extract(i.value, '$.type') IS NOT NULL)
         AS offer_types,
       a.deadline,
       a.status,
       CASE a.talent WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END AS talent
FROM articles a"""


def ensure_views(db: sqlite_utils.Database) -> None:
    """Create the view, or replace it when its definition changed."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?",
                     [VIEW_NAME]).fetchone()
    if row and row[0] == VIEW_SQL:
        return
    with db.conn:
        db.execute(f"DROP VIEW IF EXISTS {VIEW_NAME}")
        db.execute(VIEW_SQL)
