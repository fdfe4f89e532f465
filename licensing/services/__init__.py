"""Business rules as plain typed functions.

Services take the session and what they need as arguments, raise ``LicensingError``s,
flush but never commit: the request, CLI command or job around them commits once.
"""
