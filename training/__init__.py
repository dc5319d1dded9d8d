"""payrisk: training."""
