"""payrisk: features."""
