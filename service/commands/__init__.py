"""Sub-commands of `osteocds`; one module each, found automatically by `service.cli`."""
