"""Tests of rnnlab.engines."""
