"""payrisk: models."""
