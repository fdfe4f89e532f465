"""Keys, sealing, signatures and leases: the product's cryptography in one place."""
