"""Request and response models of the service."""
