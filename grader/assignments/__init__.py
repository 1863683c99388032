"""Item registries, one module per assignment, each defining `ITEMS`."""
