"""Persistence machinery below the services: hot-path statements, stores, batch writers.

Services hold the rules and choose which of these to use; nothing here decides a
verdict. Modules here import only the layers below (models, crypto and the foundation
modules; docs/architecture.md): never services, never Flask, never ``licensing.metrics``
(a hook such as the batch metric is passed in by the wiring, ``licensing/runtime.py``).

Who commits: nothing here commits a session, with one exception, the check-in group
commit on PostgreSQL (:mod:`licensing.storage.group_commit`), which writes a batch of
check-ins in one autocommit statement (:mod:`licensing.storage.checkin_batches`) and
commits a session that joined it; the service that records a check-in chooses it.
Every other write here waits for the commit of the face around the request.
"""
