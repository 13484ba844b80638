"""User-facing tools: explain, profile, pictures."""
