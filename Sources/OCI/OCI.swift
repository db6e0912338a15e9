// OCI module.
