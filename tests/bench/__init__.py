"""Tests of rnnlab.bench."""
