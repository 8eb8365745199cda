"""Client trust for CDS Hooks 2.0 ("Trusting CDS Clients"): trusted issuers, JWKS, JWT verification.

Pure Python (no Flask): `service.protocol.auth` wires it into the application.
"""
