"""fhir_fixtures."""
