"""Tests of rnnlab.forecast."""
