"""osteocds: a CDS Hooks 2.0 service for osteoporosis (romosozumab, denosumab).

Kept thin on purpose: the app factory is `service.app.create_app`; importing `service` must not
import Flask. It does refuse compiled modules older than their sources (`service.compiled`).
"""

from service.compiled import check_compiled_modules

check_compiled_modules()
