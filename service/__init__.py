"""osteocds: a CDS Hooks 2.0 service for osteoporosis (romosozumab, denosumab).

Kept thin on purpose: the app factory is `service.app.create_app`; importing `service` must not
import Flask.
"""
