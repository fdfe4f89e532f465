"""HTTP interfaces, one blueprint per audience."""
