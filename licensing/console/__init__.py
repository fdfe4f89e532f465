"""The staff console: server-rendered pages at /staff for internal staff."""
