"""JSON Schemas (draft 2020-12) for CDS Hooks 2.0 messages, shipped as package data.

Loaded and compiled once by `service.protocol.validation`;
every `$id` is `urn:osteocds:schema:<file stem>`.
"""
