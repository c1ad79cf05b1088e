"""Pure domain model and rules: values, enums and errors. Standard library only."""
