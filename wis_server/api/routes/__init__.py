"""One module per resource; each registers its operations on the Api."""
