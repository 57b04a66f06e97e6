"""Per-surface conversions, one package per API surface, one module per direction. The
engine never imports these (tests/unit/test_layout.py)."""
