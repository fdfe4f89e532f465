"""Business rules as plain typed functions.

Services take the session and what they need as arguments, raise ``LicensingError``s,
flush but never commit: the face around them (the instance blueprint's after-request
hook, a partner request, a CLI command, a job) commits once. Exactly three writes are
committed below a face: a check-in on PostgreSQL (``check_ins`` hands it to the group
commit of ``licensing.storage``, which writes and commits a batch of check-ins in one
statement), the rate-limit counters (their own autocommit connection) and a nonce in
the Redis replay store (a Redis write, outside the database transaction). Persistence
machinery (statements, stores, batch writers, counters) lives in ``licensing.storage``;
services choose it, it never imports them.
"""
