"""Business rules as plain typed functions.

Services take the session and what they need as arguments, raise ``LicensingError``s,
flush but never commit: the face around them (the instance blueprint's after-request
hook, a partner request, a CLI command, a job) commits once. The one write committed
below a face is a check-in on PostgreSQL: ``instance_calls`` hands it to the group
commit of ``licensing.storage``, which writes and commits a batch of check-ins in one
statement. Persistence machinery (statements, stores, batch writers) lives in
``licensing.storage``; services choose it, it never imports them.
"""
