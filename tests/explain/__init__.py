"""Tests of rnnlab.explain."""
