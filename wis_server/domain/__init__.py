"""Pure domain model and rules: values, enums and errors. Standard library only.

Also the records that cross layers (domain/audit.py, domain/records.py): what a repository
returns to a service and a service to the API, so that no layer above storage names a
storage class."""
