"""Tests of the deployment files: Dockerfile, install script, compose files, Kubernetes."""
