"""Catalyst's built-in checks, one module per family, registered through the ``catalyst.checks`` entry points."""
