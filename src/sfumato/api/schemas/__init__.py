"""Leonardo's wire format (its key names, camelCase mixed with snake_case) lives only here."""
