"""Persistence machinery below the services: hot-path statements, stores, batch writers.

Services hold the rules and choose which of these to use; nothing here decides a
verdict. Modules here import only the layers below (models, crypto and the foundation
modules; docs/architecture.md): never services, never Flask, never ``licensing.metrics``
(a hook such as the batch metric is passed in by the wiring, ``licensing/runtime.py``).

Who commits: nothing here commits the session of a request, with exactly three
exceptions. The check-in group commit on PostgreSQL (:mod:`licensing.storage.group_commit`)
writes a batch of check-ins in one autocommit statement
(:mod:`licensing.storage.check_in_batches`) and commits a session that joined it; the
rate-limit counters (:mod:`licensing.storage.rate_counters`) count on a connection of
their own in autocommit mode; the Redis replay store (:mod:`licensing.storage.replay`)
sets a nonce in Redis at once, outside the database transaction. Every other write here
waits for the commit of the face around the request.
"""
