"""Data protection: the register of processing, pseudonymisation, retention, subject rights."""
