"""marshmallow schemas per audience: requests are loaded, answers documented."""
