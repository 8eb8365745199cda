"""Numbered SQL migrations, one file per version and dialect: `NNNN_<name>.<dialect>.sql`.

Applied in order by `service.store.sql.SqlStore.migrate()` under a lock; never edit an applied
file, add the next number instead.
"""
