"""Test suite of osteocds (a package so test helpers import as tests.<dir>.<module>)."""
