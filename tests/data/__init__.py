"""Tests of rnnlab.data."""
