"""payrisk: serving."""
