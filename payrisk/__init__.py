"""payrisk: payrisk."""
