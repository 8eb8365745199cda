"""Pure clinical evaluation: `assess(record, as_of, knowledge, policy="us") -> Assessment`."""

from service.evaluation.assess import assess

__all__ = ["assess"]
